/**
 * Writes docs/topology.schema.json from the zod schema in protocol/topology.ts,
 * so editors can check and complete topology files. Run it after changing the
 * schema: `bun scripts/export-schema.ts`. protocol/topology.test.ts fails when
 * the committed file and the schema disagree.
 */
import { topologyJsonSchemaText } from "../protocol/topology.ts";

const out = new URL("../docs/topology.schema.json", import.meta.url);
await Bun.write(out, topologyJsonSchemaText());
console.log(`wrote ${out.pathname}`);
