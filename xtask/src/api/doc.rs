//! One crate's rustdoc JSON, indexed for the walk: items by id, the paths rustdoc knows for
//! items of other crates, and the public path chosen for every item of this crate.

use std::collections::HashMap;

use crate::json::Json;

/// The rustdoc `format_version`s this renderer was written against. Another version is
/// refused with a clear message rather than rendered wrongly.
pub(crate) const FORMAT_VERSIONS: &[u32] = &[57];

/// A parsed rustdoc JSON document.
pub(crate) struct Doc<'a> {
    /// The crate's root module id.
    pub(crate) root: String,
    index: HashMap<String, &'a Json>,
    /// id → path segments, for items rustdoc names (of this crate and of dependencies).
    paths: HashMap<String, Vec<&'a str>>,
    /// id → the public path the snapshot uses for an item of this crate (filled in by the
    /// walk: the shortest path it is reachable by, the first in order among equals).
    public: HashMap<String, String>,
}

/// An id (`"id": 12`) as the index's key.
pub(crate) fn id_key(id: &Json) -> Option<String> {
    match id {
        // Ids are small integers; rustdoc writes them as JSON numbers.
        Json::Num(n) if *n >= 0.0 && n.fract() == 0.0 => Some(format!("{}", *n as u64)),
        Json::Str(s) => Some(s.clone()),
        _ => None,
    }
}

impl<'a> Doc<'a> {
    /// Indexes `json`, a rustdoc JSON document of a supported format version.
    pub(crate) fn new(json: &'a Json) -> Result<Doc<'a>, String> {
        let version = json
            .get("format_version")
            .and_then(Json::as_f64)
            .ok_or("not rustdoc JSON: no format_version")? as u32;
        if !FORMAT_VERSIONS.contains(&version) {
            return Err(format!(
                "rustdoc JSON format_version {version} is not supported (xtask/src/api knows {FORMAT_VERSIONS:?}); \
                 adapt xtask/src/api/ to the new format"
            ));
        }
        let root = json
            .get("root")
            .and_then(id_key)
            .ok_or("rustdoc JSON has no root")?;
        let index = json
            .get("index")
            .and_then(Json::members)
            .ok_or("rustdoc JSON has no index")?
            .iter()
            .map(|(k, v)| (k.clone(), v))
            .collect();
        let paths = json
            .get("paths")
            .and_then(Json::members)
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, v)| {
                let segments = v
                    .get("path")?
                    .as_array()?
                    .iter()
                    .map(Json::as_str)
                    .collect::<Option<Vec<_>>>()?;
                Some((k.clone(), segments))
            })
            .collect();
        Ok(Doc {
            root,
            index,
            paths,
            public: HashMap::new(),
        })
    }

    /// The item with this id, when the crate documents it.
    pub(crate) fn item(&self, id: &str) -> Option<&'a Json> {
        self.index.get(id).copied()
    }

    /// The item kind (`"struct"`, `"function"`, ...) and its inner object.
    pub(crate) fn inner(item: &Json) -> Option<(&str, &Json)> {
        let (kind, inner) = item.get("inner")?.members()?.first()?;
        Some((kind.as_str(), inner))
    }

    /// Records that the item `id` is reachable by `path`; keeps the shortest (then the
    /// smallest) of its paths.
    pub(crate) fn reach(&mut self, id: &str, path: &str) {
        let better = |old: &String| {
            let depth = |p: &str| p.matches("::").count();
            (depth(path), path) < (depth(old), old.as_str())
        };
        match self.public.get(id) {
            Some(old) if !better(old) => {}
            _ => {
                self.public.insert(id.to_owned(), path.to_owned());
            }
        }
    }

    /// The public path of an item of this crate, if the walk reached it.
    pub(crate) fn public_path(&self, id: &str) -> Option<&str> {
        self.public.get(id).map(String::as_str)
    }

    /// How a path to the item `id` is written: its public path for this crate's items, the
    /// full path rustdoc knows for other crates' items, else the path as written in the
    /// source (`written`).
    pub(crate) fn name_of(&self, id: Option<&Json>, written: &str) -> String {
        let Some(id) = id.and_then(id_key) else {
            return written.to_owned();
        };
        if let Some(public) = self.public.get(&id) {
            return public.clone();
        }
        match self.paths.get(&id) {
            Some(segments) if !segments.is_empty() => segments.join("::"),
            _ => written.to_owned(),
        }
    }
}
