//! The crate's layers, held: every top-level module of `src/` sits in one layer of [`LAYERS`]
//! (the README's module map says the same), and may name only modules of layers below its own,
//! through any `crate::…` path in its code (a `use`, a grouped `use crate::{…}`, a path
//! written inline). Inside every module folder, the sibling files form no cycle either (a
//! child using its parent's items is fine). Comments are not code: a doc link may point
//! anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Bottom to top; modules on one line are peers and may not use each other.
const LAYERS: &[&[&str]] = &[
    &["clock", "links", "query", "signing", "suggest", "text"],
    &["retry"],
    &["diagnostics"],
    &["store"],
    &["schedule"],
    &["config"],
    &["plan"],
    &["api", "fetch"],
    &["archive"],
    &["state"],
    &["lifecycle"],
    &["runner"],
    &["notify", "telemetry", "ui"],
    &["cli"],
    &["commands", "fuzzing"],
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file below `dir` (or `dir` itself, when it is a file).
fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            out.extend(rust_files(&entry));
        } else if entry.extension().is_some_and(|e| e == "rs") {
            out.push(entry);
        }
    }
    out
}

/// The text of a Rust file without its comments and the contents of its string literals, so
/// that only code is scanned.
fn code_of(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'r' if bytes.get(i + 1) == Some(&b'#') || bytes.get(i + 1) == Some(&b'"') => {
                // A raw string (r"…", r#"…"#) or a raw identifier (r#type).
                let mut j = i + 1;
                while bytes.get(j) == Some(&b'#') {
                    j += 1;
                }
                if bytes.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let hashes = j - i - 1;
                let end = format!("\"{}", "#".repeat(hashes));
                let rest = &text[j + 1..];
                i = j + 1 + rest.find(&end).map_or(rest.len(), |k| k + end.len());
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' => {
                // A char literal ('x', '\n', '"') or a lifetime ('a).
                let close = if bytes.get(i + 1) == Some(&b'\\') {
                    text[i + 2..].find('\'').map(|k| i + 2 + k)
                } else {
                    let c = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                    (bytes.get(i + 1 + c) == Some(&b'\'')).then_some(i + 1 + c)
                };
                match close {
                    Some(end) => {
                        out.push_str("' '");
                        i = end + 1;
                    }
                    None => {
                        out.push('\'');
                        i += 1;
                    }
                }
            }
            _ => {
                let c = text[i..].chars().next().expect("a char");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// The first segment of every `crate::…` path in `code`, grouped `use crate::{a::X, b}`
/// included: (module, line).
fn crate_paths(code: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `$crate::`, `other_crate::`, `::crate::`
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = &code[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => out.extend(group_items(group).into_iter().map(|m| (m, line))),
            None => out.push((first_segment(rest), line)),
        }
    }
    out
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The first segments of the items of a `{a::X, b::{c, d}, e}` group, given the text after
/// its opening brace.
fn group_items(group: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (k, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(first_segment(group[start..k].trim()));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(first_segment(group[start..k].trim()));
                start = k + 1;
            }
            _ => {}
        }
    }
    out.retain(|name| !name.is_empty());
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The modules in `dir`: its folders and `.rs` files, less the files named in `skip`.
fn modules_in(dir: &Path, skip: &[&str]) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            if p.is_dir() {
                Some(name)
            } else {
                let stem = name.strip_suffix(".rs")?;
                (!skip.contains(&stem)).then(|| stem.to_owned())
            }
        })
        .collect()
}

/// Top-level modules of `src/`: folders and files besides `main.rs` and `lib.rs`.
fn top_level_modules() -> Vec<String> {
    modules_in(&src(), &["main", "lib"]).into_iter().collect()
}

fn module_path(module: &str) -> PathBuf {
    let dir = src().join(module);
    if dir.is_dir() {
        dir
    } else {
        src().join(format!("{module}.rs"))
    }
}

#[test]
fn every_top_level_module_has_a_layer_and_every_layer_a_module() {
    let modules = top_level_modules();
    let unplaced: Vec<&String> = modules.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules without a layer (add them to LAYERS and the README's module map): {unplaced:?}"
    );
    let gone: Vec<&&str> = LAYERS
        .iter()
        .flat_map(|l| l.iter())
        .filter(|m| !modules.iter().any(|n| n == *m))
        .collect();
    assert!(gone.is_empty(), "LAYERS names modules src/ lacks: {gone:?}");
}

#[test]
fn modules_use_only_layers_below_their_own() {
    let modules = top_level_modules();
    let mut violations = Vec::new();
    for module in &modules {
        let Some(own) = layer_of(module) else {
            continue;
        };
        for file in rust_files(&module_path(module)) {
            let text = fs::read_to_string(&file).expect("read a source file");
            for (used, line) in crate_paths(&code_of(&text)) {
                if used == *module || !modules.contains(&used) {
                    continue;
                }
                let ok = layer_of(&used).is_some_and(|theirs| theirs < own);
                if !ok {
                    let shown = file.strip_prefix(src()).unwrap_or(&file).display();
                    violations.push(format!(
                        "src/{shown}:{line}: `{module}` uses `crate::{used}`, which is not below it"
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layer order:\n{}",
        violations.join("\n")
    );
}

/// What only reads state (`status`, the viewer, the plan) takes which ticks are due and when
/// the next one is from `plan::due`, the one the runner uses too, and nothing from the runner:
/// a reader must not depend on how runs are carried out.
#[test]
fn state_readers_do_not_reach_into_the_runner() {
    let readers = [
        src().join("ui"),
        src().join("plan"),
        src().join("commands/status.rs"),
        src().join("commands/plan.rs"),
    ];
    let mut found = Vec::new();
    for file in readers.iter().flat_map(|p| rust_files(p)) {
        let text = fs::read_to_string(&file).expect("read a source file");
        for (used, line) in crate_paths(&code_of(&text)) {
            if used == "runner" {
                let shown = file.strip_prefix(src()).unwrap_or(&file).display();
                found.push(format!("src/{shown}:{line}"));
            }
        }
    }
    assert!(found.is_empty(), "readers using crate::runner: {found:?}");
}

/// The sibling files of `dir` and which of them each uses, through `super::x` or
/// `crate::<module path>::x`.
fn sibling_edges(dir: &Path, module_path: &str) -> BTreeMap<String, BTreeSet<String>> {
    let siblings = modules_in(dir, &["mod"]);
    let mut edges = BTreeMap::new();
    for sibling in &siblings {
        let path = dir.join(sibling);
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![dir.join(format!("{sibling}.rs"))]
        };
        let mut used = BTreeSet::new();
        for file in files {
            let code = code_of(&fs::read_to_string(&file).expect("read a source file"));
            // From a nested file, `super::` may mean the sibling itself; only files directly
            // in `dir` are unambiguous about `super::x`.
            let direct = file.parent() == Some(dir);
            for other in siblings.iter().filter(|o| *o != sibling) {
                let via_crate = format!("crate::{module_path}::{other}");
                let via_super = format!("super::{other}");
                let named = |needle: &str| {
                    code.match_indices(needle).any(|(at, _)| {
                        let after = code[at + needle.len()..].chars().next();
                        !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                    })
                };
                let super_group = direct && super_group_names(&code).contains(other);
                if named(&via_crate) || (direct && named(&via_super)) || super_group {
                    used.insert(other.clone());
                }
            }
        }
        edges.insert(sibling.clone(), used);
    }
    edges
}

/// The first segments inside `super::{…}` groups.
fn super_group_names(code: &str) -> BTreeSet<String> {
    code.match_indices("super::{")
        .flat_map(|(at, _)| group_items(&code[at + "super::{".len()..]))
        .collect()
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        if let Some(cycle) = visit(node, edges, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn sibling_files_inside_a_module_form_no_cycle() {
    let mut cycles = Vec::new();
    let mut stack: Vec<(PathBuf, String)> = top_level_modules()
        .into_iter()
        .map(|m| (src().join(&m), m))
        .filter(|(p, _)| p.is_dir())
        .collect();
    while let Some((dir, path)) = stack.pop() {
        if let Some(cycle) = find_cycle(&sibling_edges(&dir, &path)) {
            cycles.push(format!("src/{path}: {}", cycle.join(" → ")));
        }
        for entry in fs::read_dir(&dir).expect("read a module folder") {
            let sub = entry.expect("entry").path();
            if sub.is_dir() {
                let name = sub.file_name().and_then(|n| n.to_str()).expect("a name");
                stack.push((sub.clone(), format!("{path}::{name}")));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "cycles between sibling files:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_scanner_sees_paths_that_are_not_use_lines() {
    let code = code_of(
        "use crate::{config::Job, api::{x, y}};\n\
         // crate::notify in a comment\n\
         let s = \"crate::runner in a string\";\n\
         let r = r#\"crate::state\"#;\n\
         fn f() { crate::plan::check(); let c = '\"'; }\n",
    );
    let found: Vec<String> = crate_paths(&code).into_iter().map(|(m, _)| m).collect();
    assert_eq!(found, ["config", "api", "plan"]);
}

#[test]
fn a_cycle_is_found_and_a_chain_is_not() {
    let edges = |pairs: &[(&str, &str)]| {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            map.entry((*a).to_owned())
                .or_default()
                .insert((*b).to_owned());
            map.entry((*b).to_owned()).or_default();
        }
        map
    };
    assert!(find_cycle(&edges(&[("a", "b"), ("b", "c")])).is_none());
    let cycle = find_cycle(&edges(&[("a", "b"), ("b", "c"), ("c", "a")])).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
}
