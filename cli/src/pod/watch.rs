//! `get -w`: after the listing, a line for every object that changes, appears
//! or goes, as kubectl's watch prints them, until the command is interrupted.
//! podrt has no API server to stream events from, so the objects are read
//! again every [`PERIOD`] and compared with what was printed last; an object
//! that is gone is printed once more, as it was last seen.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

/// How often the objects are read again.
pub(crate) const PERIOD: Duration = Duration::from_millis(250);

/// The changes between two readings.
#[derive(Debug)]
pub(crate) struct Changes<T> {
    seen: BTreeMap<String, (serde_json::Value, T)>,
}

impl<T: Serialize + Clone> Changes<T> {
    /// Starts from the objects already printed.
    pub(crate) fn new(printed: &[T], key: &dyn Fn(&T) -> String) -> Result<Changes<T>> {
        let mut seen = BTreeMap::new();
        for o in printed {
            seen.insert(key(o), (serde_json::to_value(o)?, o.clone()));
        }
        Ok(Changes { seen })
    }

    /// The objects of `now` that are new or changed since the last reading,
    /// then those that are gone (as last seen), in that order.
    pub(crate) fn next(&mut self, now: Vec<T>, key: &dyn Fn(&T) -> String) -> Result<Vec<T>> {
        let mut out = Vec::new();
        let mut current = BTreeMap::new();
        for o in now {
            let k = key(&o);
            let value = serde_json::to_value(&o)?;
            if self.seen.get(&k).is_none_or(|(v, _)| *v != value) {
                out.push(o.clone());
            }
            current.insert(k, (value, o));
        }
        for (k, (_, o)) in &self.seen {
            if !current.contains_key(k) {
                out.push(o.clone());
            }
        }
        self.seen = current;
        Ok(out)
    }
}

/// Watches forever: reads the objects with `list` every [`PERIOD`] and hands
/// what changed to `print` (the rows without their header, or the objects),
/// flushing stdout after each batch so a pipe sees it at once.
pub(crate) fn follow<T: Serialize + Clone>(
    printed: &[T],
    key: &dyn Fn(&T) -> String,
    list: &mut dyn FnMut() -> Result<Vec<T>>,
    print: &mut dyn FnMut(&[T]) -> Result<()>,
) -> Result<i32> {
    let flush = || {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    };
    flush();
    let mut changes = Changes::new(printed, key)?;
    loop {
        std::thread::sleep(PERIOD);
        let changed = changes.next(list()?, key)?;
        if !changed.is_empty() {
            print(&changed)?;
            flush();
        }
    }
}

/// A table's rows, without its header line.
pub(crate) fn rows(table: &str) -> String {
    table.lines().skip(1).map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(o: &(String, i32)) -> String {
        o.0.clone()
    }

    #[test]
    fn new_changed_and_gone_objects_are_reported_once() {
        let a = ("a".to_string(), 1);
        let b = ("b".to_string(), 1);
        let mut changes = Changes::new(&[a.clone(), b.clone()], &key).unwrap();
        assert!(changes
            .next(vec![a.clone(), b.clone()], &key)
            .unwrap()
            .is_empty());
        let b2 = ("b".to_string(), 2);
        let c = ("c".to_string(), 1);
        assert_eq!(
            changes.next(vec![b2.clone(), c.clone()], &key).unwrap(),
            vec![b2.clone(), c.clone(), a]
        );
        assert!(changes.next(vec![b2, c], &key).unwrap().is_empty());
    }

    #[test]
    fn rows_leave_the_header_out() {
        assert_eq!(rows("NAME  AGE\nweb   1s\n"), "web   1s\n");
    }
}
