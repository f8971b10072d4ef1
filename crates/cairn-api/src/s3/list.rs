//! Listing a bucket folder as S3 keys, in S3's order, one page at a time.
//!
//! Keys are the files' paths relative to the bucket folder, joined with `/`. Visiting each
//! folder's entries sorted by `name` (files) or `name/` (folders) yields the keys in UTF-8 byte
//! order without collecting them all, so a page stops reading once it is full, and subtrees that
//! cannot contribute (outside the prefix, before the marker, rolled into a common prefix already
//! answered) are never read. Symbolic links, non-UTF-8 names and [`METADATA_DIR`] are skipped.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::buckets::METADATA_DIR;

/// What to list.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListRequest {
    pub prefix: String,
    /// Keys are rolled up into common prefixes at the first `delimiter` after the prefix;
    /// empty means no delimiter.
    pub delimiter: String,
    /// Only entries (keys or common prefixes) after this one.
    pub after: Option<String>,
    /// The most entries to return.
    pub max: usize,
}

/// One entry of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Object(Object),
    CommonPrefix(String),
}

/// A file, as an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

/// A page of entries in key order; `truncated` when more follow.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub entries: Vec<Entry>,
    pub truncated: bool,
}

impl Entry {
    /// The key or common prefix: what a following page starts after.
    pub(crate) fn name(&self) -> &str {
        match self {
            Entry::Object(o) => &o.key,
            Entry::CommonPrefix(p) => p,
        }
    }
}

/// Lists the bucket in `bucket_dir` (blocking: run it off the async threads).
pub(crate) fn list(bucket_dir: &Path, req: &ListRequest) -> io::Result<Page> {
    let mut walk = Walk {
        req,
        page: Page::default(),
        last_prefix: None,
    };
    if req.max > 0 {
        walk.dir(bucket_dir, "")?;
    }
    Ok(walk.page)
}

struct Walk<'a> {
    req: &'a ListRequest,
    page: Page,
    /// The last common prefix answered; keys under it roll into it and are skipped.
    last_prefix: Option<String>,
}

/// Whether to stop the walk.
type Stop = bool;

impl Walk<'_> {
    /// Visits the folder whose keys start with `key_prefix` (`""` or ending in `/`).
    fn dir(&mut self, dir: &Path, key_prefix: &str) -> io::Result<Stop> {
        for (name, is_dir) in sorted_entries(dir, key_prefix.is_empty())? {
            let full = format!("{key_prefix}{name}");
            let stop = if is_dir {
                self.subdir(&dir.join(name.trim_end_matches('/')), full)?
            } else {
                self.file(&dir.join(&name), full)?
            };
            if stop {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A folder whose keys all start with `full` (ending in `/`).
    fn subdir(&mut self, path: &Path, full: String) -> io::Result<Stop> {
        let req = self.req;
        if !(full.starts_with(&req.prefix) || req.prefix.starts_with(&full)) {
            return Ok(false);
        }
        // Every key below sorts before the marker.
        if let Some(after) = &req.after
            && full.as_str() < after.as_str()
            && !after.starts_with(&full)
        {
            return Ok(false);
        }
        if self
            .last_prefix
            .as_ref()
            .is_some_and(|p| full.starts_with(p))
        {
            return Ok(false);
        }
        // Every key below rolls up into the same common prefix: answer it without descending.
        if let Some(common) = self.common_prefix(&full) {
            if self.skip_prefix(&common) || !has_file(path)? {
                return Ok(false);
            }
            return Ok(self.emit(Entry::CommonPrefix(common)));
        }
        self.dir(path, &full)
    }

    fn file(&mut self, path: &Path, key: String) -> io::Result<Stop> {
        let req = self.req;
        if !key.starts_with(&req.prefix) || req.after.as_ref().is_some_and(|a| key <= *a) {
            return Ok(false);
        }
        if let Some(common) = self.common_prefix(&key) {
            if self.skip_prefix(&common) {
                return Ok(false);
            }
            return Ok(self.emit(Entry::CommonPrefix(common)));
        }
        let meta = match fs::symlink_metadata(path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return Ok(false),
            // Deleted since the folder was read.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        Ok(self.emit(Entry::Object(Object {
            key,
            path: path.to_path_buf(),
            size: meta.len(),
            modified: meta.modified()?,
        })))
    }

    /// The common prefix `text` (a key, or a folder's key prefix) rolls up into, if the
    /// delimiter occurs in it after the prefix.
    fn common_prefix(&self, text: &str) -> Option<String> {
        let req = self.req;
        if req.delimiter.is_empty() || !text.starts_with(&req.prefix) {
            return None;
        }
        let rest = &text[req.prefix.len()..];
        let at = rest.find(&req.delimiter)?;
        Some(text[..req.prefix.len() + at + req.delimiter.len()].to_string())
    }

    /// Whether a common prefix was answered already (this page or an earlier one).
    fn skip_prefix(&self, common: &str) -> bool {
        self.last_prefix.as_deref() == Some(common)
            || self
                .req
                .after
                .as_ref()
                .is_some_and(|a| common <= a.as_str())
    }

    /// Adds an entry; when the page is already full, marks it truncated and stops.
    fn emit(&mut self, entry: Entry) -> Stop {
        if self.page.entries.len() == self.req.max {
            self.page.truncated = true;
            return true;
        }
        if let Entry::CommonPrefix(p) = &entry {
            self.last_prefix = Some(p.clone());
        }
        self.page.entries.push(entry);
        false
    }
}

/// The folder's listable entries as (`name` or `name/`, is a folder), sorted by that text.
fn sorted_entries(dir: &Path, bucket_root: bool) -> io::Result<Vec<(String, bool)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        // Deleted since its parent was read.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            tracing::warn!(path = %entry.path().display(), "skipping a file name that is not UTF-8");
            continue;
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if bucket_root && name == METADATA_DIR {
                continue;
            }
            out.push((format!("{name}/"), true));
        } else if kind.is_file() {
            out.push((name, false));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Whether the folder holds at least one listable file, at any depth.
fn has_file(dir: &Path) -> io::Result<bool> {
    for (name, is_dir) in sorted_entries(dir, false)? {
        if !is_dir || has_file(&dir.join(name.trim_end_matches('/')))? {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(keys: &[&str]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for key in keys {
            let path = tmp.path().join(key);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, key.as_bytes()).unwrap();
        }
        tmp
    }

    fn names(
        dir: &Path,
        prefix: &str,
        delimiter: &str,
        after: Option<&str>,
        max: usize,
    ) -> (Vec<String>, bool) {
        let page = list(
            dir,
            &ListRequest {
                prefix: prefix.into(),
                delimiter: delimiter.into(),
                after: after.map(String::from),
                max,
            },
        )
        .unwrap();
        (
            page.entries.iter().map(|e| e.name().to_string()).collect(),
            page.truncated,
        )
    }

    const KEYS: &[&str] = &[
        "a/x",
        "a/y/z",
        "a-b",
        "ab/c",
        "b",
        "a+b",
        "ü",
        "z/.cairn-meta/k",
    ];

    #[test]
    fn keys_come_in_utf8_byte_order_without_sidecars() {
        let tmp = bucket(KEYS);
        fs::create_dir_all(tmp.path().join(".cairn-meta/a")).unwrap();
        fs::write(tmp.path().join(".cairn-meta/a/x.json"), "{}").unwrap();
        fs::create_dir_all(tmp.path().join("empty/dir")).unwrap();
        let mut expected: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
        expected.sort();
        assert_eq!(names(tmp.path(), "", "", None, 1000), (expected, false));
    }

    #[test]
    fn prefixes_markers_and_pages() {
        let tmp = bucket(KEYS);
        let all = |p, a| names(tmp.path(), p, "", a, 1000).0;
        assert_eq!(all("a/", None), ["a/x", "a/y/z"]);
        assert_eq!(all("a", None), ["a+b", "a-b", "a/x", "a/y/z", "ab/c"]);
        assert_eq!(all("a/y/", None), ["a/y/z"]);
        assert_eq!(
            all("", Some("a/x")),
            ["a/y/z", "ab/c", "b", "z/.cairn-meta/k", "ü"]
        );
        assert_eq!(all("nothing", None), Vec::<String>::new());
        // Paging one at a time visits every key once.
        let mut after = None;
        let mut seen = Vec::new();
        loop {
            let (page, truncated) = names(tmp.path(), "", "", after.as_deref(), 1);
            seen.extend(page.clone());
            if !truncated {
                break;
            }
            after = page.last().cloned();
        }
        assert_eq!(seen.len(), KEYS.len());
        assert_eq!(names(tmp.path(), "", "", None, 0), (vec![], false));
    }

    #[test]
    fn delimiters_roll_keys_into_common_prefixes() {
        let tmp = bucket(KEYS);
        fs::create_dir_all(tmp.path().join("empty/dir")).unwrap();
        assert_eq!(
            names(tmp.path(), "", "/", None, 1000).0,
            ["a+b", "a-b", "a/", "ab/", "b", "z/", "ü"]
        );
        assert_eq!(names(tmp.path(), "a/", "/", None, 1000).0, ["a/x", "a/y/"]);
        // A common prefix answered on one page is not repeated on the next.
        assert_eq!(
            names(tmp.path(), "", "/", None, 3),
            (vec!["a+b".into(), "a-b".into(), "a/".into()], true)
        );
        assert_eq!(
            names(tmp.path(), "", "/", Some("a/"), 2),
            (vec!["ab/".into(), "b".into()], true)
        );
        // Any delimiter, not only `/`.
        assert_eq!(
            names(tmp.path(), "a", "b", None, 1000).0,
            ["a+b", "a-b", "a/x", "a/y/z", "ab"]
        );
    }
}
