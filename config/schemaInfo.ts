import { z } from "zod";

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; defaultValue?: unknown };
const defOf = (schema: z.ZodType) => (schema as unknown as { def: Def }).def;

/**
 * What a key's zod schema says about it, for the config loader (which decodes Pulumi's strings
 * by base type) and the README reference (required or default): the one place that reads zod's
 * internals.
 */
export function schemaInfo(schema: z.ZodType): { baseType: string; required: boolean; defaultValue?: unknown } {
  const outer = defOf(schema);
  const required = outer.type !== "default" && outer.type !== "optional";
  let def = outer;
  while ((def.type === "default" || def.type === "optional" || def.type === "pipe") && (def.innerType ?? def.in)) {
    def = defOf((def.innerType ?? def.in)!);
  }
  return { baseType: def.type, required, ...(outer.type === "default" ? { defaultValue: outer.defaultValue } : {}) };
}
