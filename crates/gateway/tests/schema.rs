//! `schema/trellis.graphql` is the contract third-party front ends integrate against: it
//! must be exactly what the server serves. Regenerate it with
//! `cargo run --bin trellis -- schema > schema/trellis.graphql`, or run this test with
//! `TRELLIS_UPDATE_SCHEMA=1`, and review the diff: a removed or changed field must go
//! through `@deprecated` first.

use std::path::PathBuf;

#[test]
fn exported_schema_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/trellis.graphql");
    let served = format!("{}\n", gateway::graphql::sdl());
    if std::env::var_os("TRELLIS_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &served).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "schema/trellis.graphql is stale: run `cargo run --bin trellis -- schema > schema/trellis.graphql` and commit it"
    );
}

/// Elements of the served schema without a description, as `kind Type.field(arg)` lines.
fn undescribed() -> Vec<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    fn described(description: Option<&async_graphql::Positioned<String>>) -> bool {
        description.is_some_and(|d| !d.node.trim().is_empty())
    }

    let document =
        async_graphql::parser::parse_schema(gateway::graphql::sdl()).expect("the SDL parses");
    let mut missing = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            missing.push(what);
        }
    };
    for definition in &document.definitions {
        match definition {
            TypeSystemDefinition::Schema(_) => {}
            TypeSystemDefinition::Directive(directive) => {
                let name = &directive.node.name.node;
                check(
                    described(directive.node.description.as_ref()),
                    format!("directive @{name}"),
                );
                for argument in &directive.node.arguments {
                    let argument = &argument.node;
                    check(
                        described(argument.description.as_ref()),
                        format!("argument @{name}({})", argument.name.node),
                    );
                }
            }
            TypeSystemDefinition::Type(ty) => {
                let ty = &ty.node;
                let name = &ty.name.node;
                check(described(ty.description.as_ref()), format!("type {name}"));
                let fields = match &ty.kind {
                    TypeKind::Object(object) => Some(&object.fields),
                    TypeKind::Interface(interface) => Some(&interface.fields),
                    _ => None,
                };
                for field in fields.into_iter().flatten() {
                    let field = &field.node;
                    let at = format!("{name}.{}", field.name.node);
                    check(described(field.description.as_ref()), format!("field {at}"));
                    for argument in &field.arguments {
                        let argument = &argument.node;
                        check(
                            described(argument.description.as_ref()),
                            format!("argument {at}({})", argument.name.node),
                        );
                    }
                }
                if let TypeKind::InputObject(input) = &ty.kind {
                    for field in &input.fields {
                        let field = &field.node;
                        check(
                            described(field.description.as_ref()),
                            format!("input field {name}.{}", field.name.node),
                        );
                    }
                }
                if let TypeKind::Enum(values) = &ty.kind {
                    for value in &values.values {
                        let value = &value.node;
                        check(
                            described(value.description.as_ref()),
                            format!("enum value {name}.{}", value.value.node),
                        );
                    }
                }
            }
        }
    }
    missing.sort();
    missing
}

/// The schema lint CI keeps, as graphql-schema-linter's `*-have-descriptions` rules: every
/// type, field, argument, input field, enum value and directive of ours carries a
/// description, since client generators turn them into the doc comments a front-end
/// developer reads. A new element must come with its description: a doc comment, or
/// `desc = "…"` on an argument. (The spec's own directives are async-graphql's to describe.)
#[test]
fn every_schema_element_is_described() {
    const BUILT_IN: [&str; 5] = [
        "@skip(",
        "@include(",
        "@deprecated(",
        "@specifiedBy(",
        "@oneOf(",
    ];
    let missing: Vec<String> = undescribed()
        .into_iter()
        .filter(|m| !BUILT_IN.iter().any(|b| m.contains(b)))
        .collect();
    assert!(
        missing.is_empty(),
        "{} schema elements have no description (add a doc comment, or `desc = \"…\"` on an \
         argument):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}
