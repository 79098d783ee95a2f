/** A configuration that cannot start Strand; its message names the key. */
export class ConfigError extends Error {}
