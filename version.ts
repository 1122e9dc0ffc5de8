/** The version every part reports: the CLI, GET /health and the agent hello. */
export const VERSION = "0.1.0";
