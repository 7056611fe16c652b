//! A test that the library's source files import each other without cycles.
//!
//! Each `crate::a::b` or `super::c` path in a file (outside comments and its
//! `#[cfg(test)]` module) is resolved to the deepest source file it names
//! (`a/b.rs`, `a/b/mod.rs`, else `a.rs` / `a/mod.rs`), which gives a graph of
//! files; a depth-first search then looks for a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (e.g. `["http", "error"]`) to source file, for every library file.
fn module_files(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let Ok(rel) = path.strip_prefix(src) else {
                continue;
            };
            let mut module: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|l| l == "mod" || l == "lib") {
                module.pop();
            }
            if module == ["main"] {
                continue; // the binary, a crate of its own
            }
            out.insert(module, path);
        }
    }
    out
}

/// The code of a file without comments and without its test module.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Module paths a file's code names: `crate::a::b`, `super::c`, and the
/// lower-case names inside a `{...}` group right after one.
fn named_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = Vec::new();
    for (start, root) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        if start > 0 && code[..start].chars().next_back().is_some_and(ident) {
            continue;
        }
        let mut base: Vec<String> = if root == "crate::" {
            Vec::new()
        } else {
            // `super` of `a/b.rs` is `a`; of `a/b/mod.rs` it is the crate.
            let mut m = module.to_vec();
            m.pop();
            m
        };
        let rest = &code[start + root.len()..];
        let mut chars = rest.char_indices().peekable();
        let mut seg = String::new();
        let mut group = rest.strip_prefix('{').and_then(|g| g.split('}').next());
        while group.is_none()
            && let Some((i, c)) = chars.next()
        {
            if ident(c) {
                seg.push(c);
            } else if c == ':' && chars.peek().is_some_and(|(_, n)| *n == ':') {
                chars.next();
                if !seg.is_empty() {
                    base.push(std::mem::take(&mut seg));
                }
                if rest[i + 2..].starts_with('{') {
                    group = rest[i + 3..].split('}').next();
                    break;
                }
            } else {
                break;
            }
        }
        if !seg.is_empty() {
            base.push(seg);
        }
        for item in group.unwrap_or("").split(',') {
            let name = item.trim().split("::").next().unwrap_or("").trim();
            if name.starts_with(|c: char| c.is_ascii_lowercase()) && name != "self" {
                let mut p = base.clone();
                p.push(name.to_string());
                out.push(p);
            }
        }
        out.push(base);
    }
    out
}

/// The deepest known module that is a prefix of `path`.
fn resolve(files: &BTreeMap<Vec<String>, PathBuf>, mut path: Vec<String>) -> Option<&Vec<String>> {
    loop {
        if let Some((k, _)) = files.get_key_value(&path) {
            return Some(k);
        }
        path.pop()?;
    }
}

/// A cycle in the graph, as a list of modules, if there is one.
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, bool>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let from = stack.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle: Vec<String> = stack[from..].iter().map(|m| m.join("::")).collect();
                cycle.push(node.join("::"));
                return Some(cycle);
            }
            None => {}
        }
        state.insert(node.clone(), false);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(node.clone(), true);
        None
    }
    let mut state = BTreeMap::new();
    let mut stack = Vec::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut state, &mut stack))
}

fn graph_of(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = module_files(src);
    let mut graph = BTreeMap::new();
    for (module, path) in &files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let code = code(&text);
        // A parent names its children without a prefix (`meta::ROUTES`).
        let children = files.keys().filter(|k| {
            k.len() == module.len() + 1
                && k.starts_with(module)
                && code
                    .match_indices(&format!("{}::", k[module.len()]))
                    .any(|(i, _)| {
                        !code[..i]
                            .ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    })
        });
        let edges: BTreeSet<Vec<String>> = named_paths(module, &code)
            .into_iter()
            .chain(children.cloned())
            .filter_map(|p| resolve(&files, p).cloned())
            // A parent module declares its children; that is not an import.
            .filter(|to| to != module && !to.is_empty())
            .collect();
        graph.insert(module.clone(), edges);
    }
    graph
}

#[test]
fn library_files_import_each_other_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph_of(&src);
    assert!(graph.contains_key(&vec!["http".to_string(), "router".to_string()]));
    let handlers = &graph[&vec!["handlers".to_string()]];
    assert!(handlers.contains(&vec!["handlers".to_string(), "meta".to_string()]));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
    let http_imports_handlers = graph
        .iter()
        .filter(|(m, _)| m.first().is_some_and(|f| f == "http"))
        .any(|(_, to)| {
            to.iter()
                .any(|t| t.first().is_some_and(|f| f == "handlers"))
        });
    assert!(!http_imports_handlers, "the http layer imports a handler");
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let m = |s: &str| vec![s.to_string()];
    let mut graph = BTreeMap::new();
    graph.insert(m("a"), BTreeSet::from([m("b")]));
    graph.insert(m("b"), BTreeSet::from([m("c")]));
    graph.insert(m("c"), BTreeSet::from([m("a")]));
    assert_eq!(find_cycle(&graph).expect("cycle"), vec!["a", "b", "c", "a"]);
    graph.insert(m("c"), BTreeSet::new());
    assert!(find_cycle(&graph).is_none());
}
