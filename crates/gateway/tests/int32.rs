//! GraphQL's `Int` is 32-bit, and strict clients refuse wider values, but async-graphql prints
//! `i64`, `u32` and `u64` as `Int` too, so the schema cannot show the mistake. This reads every
//! resolver, argument and input field of the gateway as Rust and fails on any integer wider
//! than `i32` (`src/graphql/int.rs` converts at the edge).

use crate::source;

use std::fmt::Write as _;
use std::path::Path;

use syn::visit::Visit;
use syn::{Attribute, Fields, FnArg, ImplItem, Item, ReturnType, Type};

/// Rust integers that async-graphql exposes as `Int` but that do not fit it.
const WIDE: [&str; 7] = ["i64", "u32", "u64", "usize", "isize", "i128", "u128"];

/// Derives and attribute macros whose fields or methods become part of the schema.
const FIELD_DERIVES: [&str; 2] = ["SimpleObject", "InputObject"];
const RESOLVER_IMPLS: [&str; 3] = ["Object", "Subscription", "ComplexObject"];

/// Every wide integer in `ty`, including inside `Option<…>`, `Result<…>`, `Vec<…>`.
fn wide_in(ty: &Type) -> Vec<String> {
    struct Finder(Vec<String>);
    impl<'a> Visit<'a> for Finder {
        fn visit_path_segment(&mut self, segment: &'a syn::PathSegment) {
            let name = segment.ident.to_string();
            if WIDE.contains(&name.as_str()) {
                self.0.push(name);
            }
            syn::visit::visit_path_segment(self, segment);
        }
    }
    let mut finder = Finder(Vec::new());
    finder.visit_type(ty);
    finder.0
}

/// The last segment of an attribute's path: `Object` for `#[async_graphql::Object(…)]`.
fn attr_name(attr: &Attribute) -> String {
    attr.path()
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// `#[graphql(skip)]` (or `skip_input`/`skip_output`): not part of the schema.
fn skipped(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("graphql") && {
            let text = attr
                .meta
                .require_list()
                .map(|l| l.tokens.to_string())
                .unwrap_or_default();
            text.split(',').any(|part| part.trim().starts_with("skip"))
        }
    })
}

fn derives(attrs: &[Attribute], wanted: &[&str]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("derive")
            && attr
                .meta
                .require_list()
                .map(|l| l.tokens.to_string())
                .unwrap_or_default()
                .split(',')
                .any(|d| wanted.contains(&d.trim().rsplit("::").next().unwrap_or("").trim()))
    })
}

/// Every place in one file's source where the schema would carry a wide integer.
fn violations(source: &str, file: &str) -> Vec<String> {
    let parsed = syn::parse_file(source).expect("the gateway's sources parse");
    let mut found = Vec::new();
    let mut report = |what: String, ty: &Type| {
        for wide in wide_in(ty) {
            found.push(format!("{file}: {what} ({wide})"));
        }
    };
    let mut items: Vec<&Item> = parsed.items.iter().collect();
    while let Some(item) = items.pop() {
        match item {
            Item::Mod(m) => items.extend(m.content.iter().flat_map(|(_, inner)| inner)),
            Item::Struct(s) if derives(&s.attrs, &FIELD_DERIVES) => {
                if let Fields::Named(fields) = &s.fields {
                    for field in &fields.named {
                        if !skipped(&field.attrs) {
                            let name = field.ident.as_ref().map(ToString::to_string);
                            report(
                                format!("field {}.{}", s.ident, name.unwrap_or_default()),
                                &field.ty,
                            );
                        }
                    }
                }
            }
            Item::Impl(imp)
                if imp
                    .attrs
                    .iter()
                    .any(|a| RESOLVER_IMPLS.contains(&attr_name(a).as_str())) =>
            {
                let owner = match imp.self_ty.as_ref() {
                    Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
                    _ => None,
                }
                .unwrap_or_default();
                for member in &imp.items {
                    let ImplItem::Fn(method) = member else {
                        continue;
                    };
                    if skipped(&method.attrs) {
                        continue;
                    }
                    let name = format!("{owner}.{}", method.sig.ident);
                    if let ReturnType::Type(_, ty) = &method.sig.output {
                        report(format!("return of {name}"), ty);
                    }
                    for arg in &method.sig.inputs {
                        if let FnArg::Typed(typed) = arg
                            && !skipped(&typed.attrs)
                        {
                            let arg_name = match typed.pat.as_ref() {
                                syn::Pat::Ident(p) => p.ident.to_string(),
                                _ => "_".to_owned(),
                            };
                            report(format!("argument {arg_name} of {name}"), &typed.ty);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    found
}

#[test]
fn no_resolver_argument_or_input_field_is_wider_than_graphql_int() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/graphql");
    let files = source::rust_files(&root);
    assert!(
        files.len() > 20,
        "found the resolvers under {}",
        root.display()
    );
    let mut all = Vec::new();
    for path in &files {
        let source = std::fs::read_to_string(path).expect("readable source file");
        let name = path
            .strip_prefix(&root)
            .unwrap_or(path)
            .display()
            .to_string();
        all.extend(violations(&source, &name));
    }
    let mut message = String::new();
    for v in &all {
        let _ = writeln!(message, "  {v}");
    }
    assert!(
        all.is_empty(),
        "integers wider than GraphQL's Int reach the schema (use i32 and graphql::int):\n{message}"
    );
}

#[test]
fn the_check_sees_wide_integers_in_each_place_they_hide() {
    let source = r#"
        #[derive(SimpleObject)]
        struct Payload { count: u64, ok: i32, #[graphql(skip)] hidden: i64 }
        #[derive(async_graphql::InputObject, Debug)]
        struct Input { amount: Option<i64>, list: Vec<MaybeUndefined<u32>> }
        #[async_graphql::Object(name = "Thing")]
        impl Thing {
            async fn total(&self) -> async_graphql::Result<Option<usize>> { todo!() }
            async fn page(&self, first: u32, last: Option<i32>) -> i32 { 0 }
            #[graphql(skip)]
            async fn internal(&self) -> i64 { 0 }
        }
        impl NotGraphql { fn wide(&self) -> i64 { 0 } }
    "#;
    let mut found = violations(source, "example.rs");
    found.sort();
    assert_eq!(
        found,
        [
            "example.rs: argument first of Thing.page (u32)",
            "example.rs: field Input.amount (i64)",
            "example.rs: field Input.list (u32)",
            "example.rs: field Payload.count (u64)",
            "example.rs: return of Thing.total (usize)",
        ]
    );
}
