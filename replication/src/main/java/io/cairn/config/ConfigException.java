package io.cairn.config;

/**
 * A bad configuration value, file or flag. The message names the key (or flag), the value and what is allowed.
 * An {@link IllegalArgumentException} so callers that catch bad flags catch bad files too.
 */
public final class ConfigException extends IllegalArgumentException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message names the key or flag, its value and what is allowed.
     */
    public ConfigException(final String message)
    {
        super(message);
    }
}
