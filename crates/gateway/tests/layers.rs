//! Dependencies point one way, inside each domain crate too: no module imports a module that
//! imports it back, however long the way round. A cycle means two modules can only be read,
//! changed and tested together, and it is how helpers end up in the wrong file (traded's
//! `book.rs` once held what settlement, cancellation and the waiting list all needed, and
//! eight modules formed one knot).
//!
//! This reads every domain crate's sources as Rust and builds the graph of its modules (one
//! per file) from `crate::…`, `super::…` and `self::…` paths and `use` trees, outside
//! `#[cfg(test)]`. A parent module naming its own submodules (`mod x; pub use x::Y;`) is how
//! a module is made of files, not a dependency, so only the other edges count.

use crate::source;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use source::is_cfg_test;
use syn::UseTree;
use syn::visit::Visit;

/// A module by its path inside its crate (`ledger::bank::import`); the crate root is empty.
type Module = Vec<String>;

/// The file modules of a crate's `src`, by the path Rust gives them.
fn file_modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<Module, PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("read src")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, src, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path
                    .strip_prefix(src)
                    .expect("under src")
                    .with_extension("");
                let mut module: Module = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    module.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    module.pop();
                }
                out.insert(module, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// Collects the modules one file's code names.
struct Paths<'m> {
    /// The module the code being read is in (the file's, or an inline module inside it).
    here: Module,
    modules: &'m BTreeMap<Module, PathBuf>,
    named: BTreeSet<Module>,
}

impl Paths<'_> {
    /// Records the file module that `segments` (a path as written) lands in, if it is ours.
    fn record(&mut self, segments: &[String]) {
        let Some(first) = segments.first() else {
            return;
        };
        let mut absolute: Module = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.here.clone(),
            "super" => {
                let mut base = self.here.clone();
                let mut rest = segments;
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                return self.land(&base);
            }
            _ => return,
        };
        absolute.extend(segments[1..].iter().cloned());
        self.land(&absolute);
    }

    /// The longest prefix of `path` that is a file module, other than the crate root.
    fn land(&mut self, path: &[String]) {
        if let Some(module) = (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| self.modules.contains_key(m))
        {
            self.named.insert(module);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &UseTree) {
        match tree {
            UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(prefix, &path.tree);
                prefix.pop();
            }
            UseTree::Name(name) => {
                let mut full = prefix.clone();
                if name.ident != "self" {
                    full.push(name.ident.to_string());
                }
                self.record(&full);
            }
            UseTree::Rename(rename) => {
                let mut full = prefix.clone();
                if rename.ident != "self" {
                    full.push(rename.ident.to_string());
                }
                self.record(&full);
            }
            UseTree::Glob(_) => self.record(prefix),
            UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

impl<'a> Visit<'a> for Paths<'_> {
    fn visit_item(&mut self, item: &'a syn::Item) {
        let attrs = match item {
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Const(c) => &c.attrs,
            syn::Item::Static(s) => &s.attrs,
            syn::Item::Struct(s) => &s.attrs,
            syn::Item::Enum(e) => &e.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_cfg_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, item: &'a syn::ItemMod) {
        if let Some((_, items)) = &item.content {
            self.here.push(item.ident.to_string());
            for item in items {
                self.visit_item(item);
            }
            self.here.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'a syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'a syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, path);
    }
}

/// Each file module's dependencies on the crate's other file modules, a module's own
/// descendants excepted.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let modules = file_modules(src);
    let mut graph = BTreeMap::new();
    for (module, path) in &modules {
        let text = std::fs::read_to_string(path).expect("read source");
        let file = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let mut paths = Paths {
            here: module.clone(),
            modules: &modules,
            named: BTreeSet::new(),
        };
        paths.visit_file(&file);
        let depends: BTreeSet<Module> = paths
            .named
            .into_iter()
            .filter(|m| !m.is_empty() && !m.starts_with(module))
            .collect();
        graph.insert(module.clone(), depends);
    }
    graph
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Tarjan<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'g Module, usize>,
        low: BTreeMap<&'g Module, usize>,
        stack: Vec<&'g Module>,
        found: Vec<Vec<Module>>,
    }
    impl<'g> Tarjan<'g> {
        fn visit(&mut self, v: &'g Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in &self.graph[v] {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !tarjan.index.contains_key(v) {
            tarjan.visit(v);
        }
    }
    tarjan.found
}

/// Every workspace crate but the gateway, whose GraphQL types refer to each other as the
/// schema's object graph does.
fn domain_crates() -> Vec<(String, PathBuf)> {
    let crates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&crates)
        .expect("crates/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("src/lib.rs").exists())
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, p.join("src"))
        })
        .filter(|(name, _)| name != "gateway")
        .collect();
    found.sort();
    found
}

#[test]
fn no_domain_module_imports_one_that_imports_it_back() {
    let mut report = String::new();
    let mut checked = 0;
    for (name, src) in domain_crates() {
        let graph = graph(&src);
        checked += graph.len();
        for component in cycles(&graph) {
            let _ = write!(report, "\n{name}: a cycle of {} modules", component.len());
            for module in &component {
                let into: Vec<String> = graph[module]
                    .iter()
                    .filter(|m| component.contains(m))
                    .map(|m| m.join("::"))
                    .collect();
                let _ = write!(report, "\n  {} -> {}", module.join("::"), into.join(", "));
            }
        }
    }
    assert!(
        checked > 100,
        "read only {checked} modules: is crates/ where it was?"
    );
    assert!(report.is_empty(), "import cycles:{report}");
}

/// The reader itself: a cycle through `super::` and a `use` group is found, a parent naming
/// its submodule is not one, and test code does not count.
#[test]
fn the_reader_finds_a_cycle_and_only_a_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    std::fs::create_dir(src.join("a")).expect("mkdir");
    for (file, text) in [
        ("lib.rs", "mod a; mod b; mod c; pub use a::X;"),
        (
            "a/mod.rs",
            "mod inner; pub use inner::Y; pub struct X(crate::b::B);",
        ),
        ("a/inner.rs", "pub struct Y(super::X);"),
        ("b.rs", "use crate::{c::C, c};\npub struct B;"),
        (
            "c.rs",
            "pub struct C; fn f() -> crate::a::X { todo!() }\n#[cfg(test)] mod t { use crate::b::B; }",
        ),
    ] {
        std::fs::write(src.join(file), text).expect("write");
    }
    let knot = graph(src);
    assert_eq!(
        cycles(&knot),
        vec![vec![
            vec!["a".to_owned()],
            vec!["b".to_owned()],
            vec!["c".to_owned()]
        ]],
        "{knot:?}"
    );
    // Without `c`'s use of `a` there is no cycle: `c`'s tests may name `b`.
    std::fs::write(
        src.join("c.rs"),
        "pub struct C;\n#[cfg(test)] mod t { use crate::b::B; }",
    )
    .expect("write");
    assert!(cycles(&graph(src)).is_empty());
}
