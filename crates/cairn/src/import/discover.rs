//! Which files to import: the paths given, folders searched recursively (in name order, so the
//! log order is the same on every run), digest files and everything that is not a log file
//! skipped and counted.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The result of looking at the paths given.
#[derive(Debug, Default)]
pub struct Found {
    /// Log files to import, in order.
    pub files: Vec<PathBuf>,
    /// CloudTrail digest files skipped.
    pub digests: usize,
    /// Other files skipped (not `.json` / `.json.gz`).
    pub others: usize,
    /// Paths that could not be read (missing, unreadable folder), with the reason.
    pub errors: Vec<(PathBuf, String)>,
}

/// Whether `path` is a CloudTrail digest file: under a `CloudTrail-Digest` folder (AWS's S3
/// layout) or named `..._CloudTrail-Digest_...`.
pub fn is_digest(path: &Path) -> bool {
    let name_says = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("_CloudTrail-Digest_"));
    name_says
        || path
            .components()
            .any(|c| c.as_os_str() == "CloudTrail-Digest")
}

/// Whether a file found in a folder looks like a log file: `.json` or `.json.gz`.
pub fn is_log_file_name(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_ascii_lowercase)
        .is_some_and(|n| n.ends_with(".json.gz") || n.ends_with(".json"))
}

/// Looks at every path: a file is imported as given (whatever its name, unless it is a digest
/// file), a folder is searched recursively for `.json` / `.json.gz` files. Symbolic links to
/// files are followed; links to folders inside a folder are not (no cycles). A file reached
/// twice is imported once.
pub fn find(paths: &[PathBuf]) -> Found {
    let mut found = Found::default();
    let mut seen = HashSet::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut found, &mut seen),
            Ok(_) => add_file(path, true, &mut found, &mut seen),
            Err(e) => found.errors.push((path.clone(), e.to_string())),
        }
    }
    found
}

fn walk(dir: &Path, found: &mut Found, seen: &mut HashSet<PathBuf>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            found
                .errors
                .push((dir.to_path_buf(), format!("cannot list folder: {e}")));
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, found, seen);
        } else if kind.is_file() || std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            add_file(&path, false, found, seen);
        }
    }
}

fn add_file(path: &Path, given: bool, found: &mut Found, seen: &mut HashSet<PathBuf>) {
    if is_digest(path) {
        found.digests += 1;
    } else if !given && !is_log_file_name(path) {
        found.others += 1;
    } else {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if seen.insert(key) {
            found.files.push(path.to_path_buf());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_names() {
        assert!(is_digest(Path::new(
            "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/1_CloudTrail-Digest_us-east-1_t_x.json.gz"
        )));
        assert!(is_digest(Path::new(
            "x/1_CloudTrail-Digest_us-east-1.json.gz"
        )));
        assert!(!is_digest(Path::new(
            "AWSLogs/1/CloudTrail/us-east-1/2024/01/01/1_CloudTrail_us-east-1_t_x.json.gz"
        )));
        assert!(is_log_file_name(Path::new("a/b.json.gz")));
        assert!(is_log_file_name(Path::new("a/B.JSON")));
        assert!(!is_log_file_name(Path::new("a/b.json.gz.sha256")));
        assert!(!is_log_file_name(Path::new("a/LICENSE")));
    }

    #[test]
    fn walks_in_name_order_and_counts_skips() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/CloudTrail-Digest")).unwrap();
        for f in [
            "b/2.json.gz",
            "a.json",
            "b/1.json",
            "README.md",
            "b/CloudTrail-Digest/d.json.gz",
        ] {
            std::fs::write(root.join(f), "[]").unwrap();
        }
        let found = find(&[
            root.to_path_buf(),
            root.join("a.json"),
            root.join("missing"),
        ]);
        let rel: Vec<_> = found
            .files
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(rel, ["a.json", "b/1.json", "b/2.json.gz"]);
        assert_eq!((found.digests, found.others), (1, 1));
        assert_eq!(found.errors.len(), 1);
    }
}
