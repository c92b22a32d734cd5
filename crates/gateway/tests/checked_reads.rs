//! Who may see what is decided in the domains, and the gateway only asks. Every domain read
//! that takes no caller (an "unchecked read": `*_by_ids`, `*_of_*`, answering whatever it is
//! asked) may be called from one gateway module only, `graphql/loaders.rs`, whose loaders are
//! the edges from a record the caller has already been shown to what hangs off it. Everywhere
//! else — `node(id:)`, resolvers, mutations re-reading what they wrote — the gateway calls a
//! checked read (which takes the `Actor` and answers only what the caller may see), so a new
//! resolver cannot forget the rule and leak.
//!
//! The test reads the domain crates' sources as Rust, collects their public reads that take
//! no `Actor`, then reads every gateway source file and fails naming each call to one of them
//! outside the loaders. `node.rs` is held to more: it decides nothing itself (no permission
//! check, no loader), it only dispatches to checked reads.

use crate::source;

use std::collections::BTreeSet;

use source::{is_cfg_test, parse, rust_files, workspace};
use syn::visit::Visit;
use syn::{FnArg, ItemFn, UseTree, Visibility};

/// The crates that hold rules and persistence.
const DOMAINS: [&str; 5] = ["membership", "billing", "offer", "peer_review", "traded"];

/// The one gateway module allowed to call unchecked reads.
const LOADERS: &str = "graphql/loaders.rs";

/// Whether a function's name says it reads records by key: `by_ids`, `*_by_ids`, `of_*`,
/// `*_of_*`.
fn is_read_name(name: &str) -> bool {
    name == "by_ids"
        || name.ends_with("_by_ids")
        || name.starts_with("of_")
        || name.contains("_of_")
}

/// Whether any parameter of `f` mentions `Actor` (the caller, or a view built from it).
fn takes_actor(f: &ItemFn) -> bool {
    struct Mentions(bool);
    impl<'ast> Visit<'ast> for Mentions {
        fn visit_ident(&mut self, i: &'ast syn::Ident) {
            if i == "Actor" {
                self.0 = true;
            }
        }
    }
    f.sig.inputs.iter().any(|arg| match arg {
        FnArg::Typed(t) => {
            let mut m = Mentions(false);
            m.visit_type(&t.ty);
            m.0
        }
        FnArg::Receiver(_) => false,
    })
}

/// The domains' public reads that take no caller.
struct Unchecked(BTreeSet<String>);

impl<'ast> Visit<'ast> for Unchecked {
    fn visit_item_fn(&mut self, f: &'ast ItemFn) {
        if matches!(f.vis, Visibility::Public(_))
            && f.sig.asyncness.is_some()
            && !is_cfg_test(&f.attrs)
            && is_read_name(&f.sig.ident.to_string())
            && !takes_actor(f)
        {
            self.0.insert(f.sig.ident.to_string());
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_cfg_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }
}

fn unchecked_reads() -> BTreeSet<String> {
    let root = workspace();
    let mut found = Unchecked(BTreeSet::new());
    for domain in DOMAINS {
        for path in rust_files(&root.join("crates").join(domain).join("src")) {
            found.visit_file(&parse(&path));
        }
    }
    found.0
}

/// The names a file brings in from the domain crates (`use billing::fees::{self, x as y}`
/// gives `fees` and `y`), so a call through them is known to be a domain call.
fn domain_imports(file: &syn::File) -> BTreeSet<String> {
    fn walk(tree: &UseTree, from_domain: bool, out: &mut BTreeSet<String>) {
        match tree {
            UseTree::Path(p) => {
                let domain = from_domain || DOMAINS.contains(&p.ident.to_string().as_str());
                walk(&p.tree, domain, out);
            }
            UseTree::Name(n) if from_domain => {
                out.insert(n.ident.to_string());
            }
            UseTree::Rename(r) if from_domain => {
                out.insert(r.rename.to_string());
            }
            UseTree::Group(g) => {
                for item in &g.items {
                    walk(item, from_domain, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for item in &file.items {
        if let syn::Item::Use(u) = item {
            walk(&u.tree, false, &mut out);
        }
    }
    // `self` in a group names the module itself (`use billing::fees::{self}` gives `fees`).
    out.remove("self");
    for item in &file.items {
        if let syn::Item::Use(u) = item {
            collect_self(&u.tree, None, &mut out);
        }
    }
    out
}

fn collect_self(tree: &UseTree, parent: Option<&str>, out: &mut BTreeSet<String>) {
    match tree {
        UseTree::Path(p) => collect_self(&p.tree, Some(&p.ident.to_string()), out),
        UseTree::Group(g) => {
            for item in &g.items {
                if let UseTree::Name(n) = item
                    && n.ident == "self"
                    && let Some(parent) = parent
                {
                    out.insert(parent.to_owned());
                }
                collect_self(item, parent, out);
            }
        }
        _ => {}
    }
}

/// Calls (and paths handed on, as `checked!` does) naming an unchecked domain read.
struct Calls<'a> {
    unchecked: &'a BTreeSet<String>,
    domain_names: BTreeSet<String>,
    found: Vec<String>,
}

impl<'ast> Visit<'ast> for Calls<'_> {
    fn visit_expr_path(&mut self, e: &'ast syn::ExprPath) {
        let segments: Vec<String> = e
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if let (Some(first), Some(last)) = (segments.first(), segments.last())
            && self.unchecked.contains(last)
            && (DOMAINS.contains(&first.as_str()) || self.domain_names.contains(first))
        {
            self.found.push(segments.join("::"));
        }
        syn::visit::visit_expr_path(self, e);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_cfg_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast ItemFn) {
        if !is_cfg_test(&f.attrs) {
            syn::visit::visit_item_fn(self, f);
        }
    }
}

#[test]
fn the_gateway_reads_through_checked_reads_outside_its_loaders() {
    let unchecked = unchecked_reads();
    // The rule is only worth something if it sees the reads it is about.
    for known in [
        "invoices_by_ids",
        "bookings_by_ids",
        "reviews_by_ids",
        "of_schools",
    ] {
        assert!(
            unchecked.contains(known),
            "{known} not found among {unchecked:?}"
        );
    }
    let src = workspace().join("crates/gateway/src");
    let mut offences = Vec::new();
    for path in rust_files(&src) {
        let relative = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        if relative == LOADERS {
            continue;
        }
        let file = parse(&path);
        let mut calls = Calls {
            unchecked: &unchecked,
            domain_names: domain_imports(&file),
            found: Vec::new(),
        };
        calls.visit_file(&file);
        offences.extend(
            calls
                .found
                .into_iter()
                .map(|call| format!("{relative}: {call}")),
        );
    }
    assert!(
        offences.is_empty(),
        "unchecked domain reads called outside {LOADERS} (call a checked read taking the \
         Actor instead, e.g. `*::visibility::visible_*`):\n{}",
        offences.join("\n")
    );
}

#[test]
fn node_only_dispatches_to_checked_reads() {
    let text = std::fs::read_to_string(workspace().join("crates/gateway/src/graphql/node.rs"))
        .expect("node.rs");
    for rule in [".can(", "may_read", "may_see", "loaders", "Permission::"] {
        assert!(
            !text.contains(rule),
            "node.rs decides who sees what (`{rule}`): that is the domains' checked reads' job"
        );
    }
}
