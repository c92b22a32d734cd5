//! A mutation's input that GraphQL cannot coerce comes back in its payload's `userErrors`,
//! like every other input problem, rather than as a top-level error that discards the answer.
//!
//! async-graphql coerces a mutation's arguments just before its resolver runs, so nothing has
//! been read or written when one fails: an `Int` outside the 32-bit range, a `Date` written
//! `26-11-02`, an academic year `2026/28`. This extension catches that failure on a root
//! mutation field, finds the input field that caused it (walking the argument's value against
//! the schema's input types, with the request's variables), and answers the payload with one
//! user error — `field` from the argument down, code `OUT_OF_RANGE` or `INVALID` — and every
//! other selected field null. It does so only where the schema allows: a payload with
//! `userErrors` whose other selected fields are nullable. Anything else (a wrong type, an
//! unknown enum value, a missing field) is refused during validation and stays a top-level
//! `BAD_USER_INPUT`, as the GraphQL spec requires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{
    InputType, Name, Positioned, ServerError, ServerResult, Value, Variables, indexmap::IndexMap,
};
use chrono::{DateTime, Utc};

use super::errors::UserErrorCode;
use super::scalars::{AcademicYearScalar, Date, Decimal};

/// The field holding a payload's input problems.
const USER_ERRORS: &str = "userErrors";

/// Installs [`CoercionErrors`] on a schema.
#[derive(Debug, Clone, Copy)]
pub struct CoercionErrors;

impl ExtensionFactory for CoercionErrors {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Request::default())
    }
}

/// What one request needs to rebuild a payload: its variables and its fragments.
#[derive(Default)]
struct Request {
    seen: Mutex<Option<Seen>>,
}

struct Seen {
    variables: Variables,
    fragments: HashMap<Name, Positioned<FragmentDefinition>>,
}

/// One input value that could not be coerced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refused {
    field: Vec<String>,
    code: UserErrorCode,
    message: String,
}

#[async_trait::async_trait]
impl Extension for Request {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(Seen {
            variables: variables.clone(),
            fragments: doc.fragments.clone(),
        });
        Ok(doc)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let is_mutation_root = info.path_node.parent.is_none()
            && ctx
                .schema_env
                .registry
                .mutation_type
                .as_deref()
                .is_some_and(|m| m == info.parent_type);
        if !is_mutation_root {
            return next.run(ctx, info).await;
        }
        let field = info.field;
        let return_type = info.return_type;
        match next.run(ctx, info).await {
            Err(error) if is_coercion_failure(&error) => {
                let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(seen) = seen.as_ref() else {
                    return Err(error);
                };
                let registry = &ctx.schema_env.registry;
                payload_with(registry, seen, field, return_type, &error)
                    .map(Some)
                    .ok_or(error)
            }
            other => other,
        }
    }
}

/// An argument's value that async-graphql could not parse into its Rust type.
fn is_coercion_failure(error: &ServerError) -> bool {
    error.path.len() <= 1 && error.message.starts_with("Failed to parse \"")
}

/// The payload answering `field` with one user error, if its type allows it.
fn payload_with(
    registry: &Registry,
    seen: &Seen,
    field: &async_graphql::parser::types::Field,
    return_type: &str,
    error: &ServerError,
) -> Option<Value> {
    let payload_type = MetaTypeName::concrete_typename(return_type);
    let MetaType::Object { fields, .. } = registry.types.get(payload_type)? else {
        return None;
    };
    fields.get(USER_ERRORS)?;
    let refused = find_refused(registry, seen, field).unwrap_or_else(|| {
        // The failing value could not be pinned down: name the first argument.
        let argument = field
            .arguments
            .first()
            .map_or_else(String::new, |(name, _)| name.node.to_string());
        Refused {
            field: vec![argument],
            code: UserErrorCode::Invalid,
            message: error.message.clone(),
        }
    });
    let mut out = IndexMap::new();
    let ok = fill(
        registry,
        &seen.fragments,
        &field.selection_set,
        payload_type,
        &refused,
        &mut out,
    );
    ok.then_some(Value::Object(out))
}

/// Finds the input value that does not coerce, among `field`'s arguments.
fn find_refused(
    registry: &Registry,
    seen: &Seen,
    field: &async_graphql::parser::types::Field,
) -> Option<Refused> {
    let MetaType::Object { fields, .. } = registry.types.get(registry.mutation_type.as_deref()?)?
    else {
        return None;
    };
    let meta = fields.get(field.name.node.as_str())?;
    for (name, value) in &field.arguments {
        let arg = meta.args.get(name.node.as_str())?;
        let value = value
            .node
            .clone()
            .into_const_with(|var| seen.variables.get(&var).cloned().ok_or(()))
            .unwrap_or(Value::Null);
        let mut path = vec![name.node.to_string()];
        if let Some(refused) = check(registry, &arg.ty, &value, &mut path) {
            return Some(refused);
        }
    }
    None
}

/// The first value under `value` (of GraphQL type `ty`) that does not coerce.
fn check(registry: &Registry, ty: &str, value: &Value, path: &mut Vec<String>) -> Option<Refused> {
    match MetaTypeName::create(ty) {
        MetaTypeName::NonNull(inner) => check(registry, inner, value, path),
        MetaTypeName::List(inner) => match value {
            Value::List(items) => items.iter().enumerate().find_map(|(i, item)| {
                path.push(i.to_string());
                let found = check(registry, inner, item, path);
                path.pop();
                found
            }),
            Value::Null => None,
            single => check(registry, inner, single, path),
        },
        MetaTypeName::Named(name) => {
            if matches!(value, Value::Null) {
                return None;
            }
            match registry.types.get(name)? {
                MetaType::InputObject { input_fields, .. } => {
                    let Value::Object(object) = value else {
                        return None;
                    };
                    input_fields.values().find_map(|input| {
                        let inner = object.get(input.name.as_str())?;
                        path.push(input.name.clone());
                        let found = check(registry, &input.ty, inner, path);
                        path.pop();
                        found
                    })
                }
                MetaType::Scalar { .. } => {
                    scalar_refusal(name, value).map(|(code, message)| Refused {
                        field: path.clone(),
                        code,
                        message,
                    })
                }
                _ => None,
            }
        }
    }
}

/// Why `value` is not a `name`, for the scalars whose parse can refuse a well-typed value.
fn scalar_refusal(name: &str, value: &Value) -> Option<(UserErrorCode, String)> {
    fn parse<T: InputType>(value: &Value) -> Option<String> {
        T::parse(Some(value.clone())).err().map(|e| {
            let message = e.into_server_error(async_graphql::Pos::default()).message;
            // `Failed to parse "Date": expected …` → `expected …`.
            match message.split_once("\": ") {
                Some((_, reason)) => reason.to_owned(),
                None => message,
            }
        })
    }
    let message = match name {
        "Int" => {
            return parse::<i32>(value).map(|_| {
                (
                    UserErrorCode::OutOfRange,
                    format!(
                        "must be a whole number from {} to {} (GraphQL's Int)",
                        i32::MIN,
                        i32::MAX
                    ),
                )
            });
        }
        "Date" => parse::<Date>(value),
        "AcademicYear" => parse::<AcademicYearScalar>(value),
        "Decimal" => parse::<Decimal>(value),
        "DateTime" => parse::<DateTime<Utc>>(value),
        _ => None,
    }?;
    Some((UserErrorCode::Invalid, message))
}

/// Writes the payload's selected fields into `out`: the user error under `userErrors`, the
/// type's name under `__typename`, null elsewhere. False when a selected field cannot be null.
fn fill(
    registry: &Registry,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    set: &Positioned<SelectionSet>,
    type_name: &str,
    refused: &Refused,
    out: &mut IndexMap<Name, Value>,
) -> bool {
    let Some(MetaType::Object { fields, .. }) = registry.types.get(type_name) else {
        return false;
    };
    for selection in &set.node.items {
        let ok = match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                let key = field.response_key().node.clone();
                match field.name.node.as_str() {
                    "__typename" => {
                        out.insert(key, Value::String(type_name.to_owned()));
                        true
                    }
                    USER_ERRORS => {
                        let error = user_error(&field.selection_set, fragments, refused);
                        out.insert(key, Value::List(vec![error]));
                        true
                    }
                    other => {
                        let nullable = fields
                            .get(other)
                            .is_some_and(|f| !MetaTypeName::create(&f.ty).is_non_null());
                        out.insert(key, Value::Null);
                        nullable
                    }
                }
            }
            Selection::FragmentSpread(spread) => fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|fragment| {
                    fragment.node.type_condition.node.on.node != type_name
                        || fill(
                            registry,
                            fragments,
                            &fragment.node.selection_set,
                            type_name,
                            refused,
                            out,
                        )
                }),
            Selection::InlineFragment(inline) => {
                let applies = inline
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| c.node.on.node == type_name);
                !applies
                    || fill(
                        registry,
                        fragments,
                        &inline.node.selection_set,
                        type_name,
                        refused,
                        out,
                    )
            }
        };
        if !ok {
            return false;
        }
    }
    true
}

/// One `UserError` with the fields `set` selects.
fn user_error(
    set: &Positioned<SelectionSet>,
    fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
    refused: &Refused,
) -> Value {
    fn walk(
        set: &Positioned<SelectionSet>,
        fragments: &HashMap<Name, Positioned<FragmentDefinition>>,
        refused: &Refused,
        out: &mut IndexMap<Name, Value>,
    ) {
        for selection in &set.node.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let value = match field.name.node.as_str() {
                        "field" => Value::List(
                            refused
                                .field
                                .iter()
                                .map(|s| Value::String(s.clone()))
                                .collect(),
                        ),
                        "code" => Value::Enum(Name::new(code_name(refused.code))),
                        "message" => Value::String(refused.message.clone()),
                        "__typename" => Value::String("UserError".to_owned()),
                        _ => Value::Null,
                    };
                    out.insert(field.response_key().node.clone(), value);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = fragments.get(&spread.node.fragment_name.node) {
                        walk(&fragment.node.selection_set, fragments, refused, out);
                    }
                }
                Selection::InlineFragment(inline) => {
                    walk(&inline.node.selection_set, fragments, refused, out);
                }
            }
        }
    }
    let mut out = IndexMap::new();
    walk(set, fragments, refused, &mut out);
    Value::Object(out)
}

/// The enum value's name of `code`, as the schema spells it.
fn code_name(code: UserErrorCode) -> &'static str {
    use async_graphql::resolver_utils::EnumType as _;
    UserErrorCode::items()
        .iter()
        .find(|item| item.value == code)
        .map_or("INVALID", |item| item.name)
}
