// graphql-js's side of the introspection test (tests/e2e/tests/introspection.rs).
//
//   node introspection.mjs query [all]   prints getIntrospectionQuery() at its defaults, or
//                                        with every option on ("all"): what tools send
//   node introspection.mjs client        reads a GraphQL response to that query on stdin,
//                                        builds a client schema from it the way codegen,
//                                        GraphiQL and graphql-inspector do, checks it is a
//                                        valid schema and that a real operation validates
//                                        against it; prints a one-line summary, exits 1 if not
import {
  buildClientSchema,
  getIntrospectionQuery,
  parse,
  validate,
  validateSchema,
} from 'graphql';

const ALL = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
};

const [mode, variant] = process.argv.slice(2);

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

if (mode === 'query') {
  process.stdout.write(getIntrospectionQuery(variant === 'all' ? ALL : undefined));
} else if (mode === 'client') {
  const response = JSON.parse(await readStdin());
  if (response.errors) fail(`the server refused introspection: ${JSON.stringify(response.errors)}`);
  const schema = buildClientSchema(response.data);
  const schemaErrors = validateSchema(schema);
  if (schemaErrors.length) fail(`invalid schema: ${schemaErrors.map(String).join('; ')}`);
  const operation = parse(
    'query Me { viewer { user { name role } schools { urn name } } }',
  );
  const errors = validate(schema, operation);
  if (errors.length) fail(`a real operation does not validate: ${errors.map(String).join('; ')}`);
  const types = Object.keys(schema.getTypeMap()).length;
  console.log(
    `client schema: ${types} types, query ${schema.getQueryType()?.name}, ` +
      `mutation ${schema.getMutationType()?.name}, subscription ${schema.getSubscriptionType()?.name}`,
  );
} else {
  fail('usage: node introspection.mjs query [all] | client');
}
