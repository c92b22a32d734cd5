// PostGraphile 5 for bench/run: the Amber preset (its recommended defaults) over the schema
// Trellis migrated, as the database owner with no RLS and no JWT, production mode, no GraphiQL.
// DATABASE_URL and PORT come from bench/run.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

export default {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT),
    graphiql: false,
    watch: false,
  },
  grafast: { explain: false },
};
