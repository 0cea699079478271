// Options more than one command takes, declared once.
export const STACK = { stack: { type: "string", default: "dev", value: "NAME", help: "stack file to read; default dev" } } as const;
export const YES = { yes: { type: "boolean", default: false, help: "confirm" } } as const;
