//! The rows of one class table as the operator scrolls it: only the pages of rows in view are
//! read from the work file, a few at a time, and a handful kept; never the whole class.

use std::collections::BTreeMap;

use paydesk::domain::reconcile::{Class, Difference};

/// Rows read from the work file at once.
pub const PAGE_ROWS: u32 = 100;
/// Pages kept in memory; the one farthest from the rows in view goes first.
pub const CACHE_PAGES: usize = 8;
/// Page reads in flight at once; more wait for the next frame.
pub const MAX_IN_FLIGHT: usize = 2;

/// Which rows a table shows: one class (every class when `None`) narrowed by a filter text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableKey {
    pub class: Option<Class>,
    pub filter: String,
}

/// One page as read: its rows and, for the first page, how many rows the table has.
#[derive(Debug)]
pub struct PageRead {
    pub key: TableKey,
    pub page: u64,
    pub total: Option<u64>,
    pub rows: Vec<Difference>,
}

/// The pages of the current table held in memory, and those being read.
#[derive(Debug, Default)]
pub struct PageCache {
    key: TableKey,
    total: Option<u64>,
    pages: BTreeMap<u64, Vec<Difference>>,
    in_flight: Vec<u64>,
}

impl PageCache {
    pub fn key(&self) -> &TableKey {
        &self.key
    }

    /// How many rows the table has, once the first page told.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// Starts over for another class or filter: every page held or asked for is dropped.
    pub fn reset(&mut self, key: TableKey) {
        *self = PageCache {
            key,
            ..PageCache::default()
        };
    }

    /// The row at `index`, when its page is held.
    pub fn row(&self, index: u64) -> Option<&Difference> {
        let page = self.pages.get(&(index / u64::from(PAGE_ROWS)))?;
        page.get(usize::try_from(index % u64::from(PAGE_ROWS)).ok()?)
    }

    /// The pages to read so that rows `first..=last` can be drawn, within the reads allowed
    /// in flight; each page returned is counted as in flight until [`PageCache::take`].
    pub fn wanted(&mut self, first: u64, last: u64) -> Vec<u64> {
        let size = u64::from(PAGE_ROWS);
        let mut asked = Vec::new();
        // The first page tells how many rows there are: nothing else is asked before it.
        if self.total.is_none() {
            if self.in_flight.contains(&0) || self.pages.contains_key(&0) {
                return Vec::new();
            }
            self.in_flight.push(0);
            return vec![0];
        }
        for page in first / size..=last / size {
            if self.in_flight.len() >= MAX_IN_FLIGHT {
                break;
            }
            let past_end = self.total.is_some_and(|t| page * size >= t && page > 0);
            if past_end || self.pages.contains_key(&page) || self.in_flight.contains(&page) {
                continue;
            }
            self.in_flight.push(page);
            asked.push(page);
        }
        asked
    }

    /// Takes in a page read; a page of another class or filter (asked before a change) is
    /// dropped. Keeps at most [`CACHE_PAGES`], dropping the farthest from this one.
    pub fn take(&mut self, read: PageRead) {
        if read.key != self.key {
            return;
        }
        self.in_flight.retain(|p| *p != read.page);
        if let Some(total) = read.total {
            self.total = Some(total);
        }
        self.pages.insert(read.page, read.rows);
        while self.pages.len() > CACHE_PAGES {
            let farthest = self
                .pages
                .keys()
                .copied()
                .max_by_key(|p| p.abs_diff(read.page));
            match farthest {
                Some(p) => self.pages.remove(&p),
                None => break,
            };
        }
    }

    /// A read that failed: the page may be asked again.
    pub fn failed(&mut self, key: &TableKey, page: u64) {
        if *key == self.key {
            self.in_flight.retain(|p| *p != page);
        }
    }

    #[cfg(test)]
    pub fn pages_held(&self) -> usize {
        self.pages.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(key: &TableKey, page: u64, total: Option<u64>) -> PageRead {
        PageRead {
            key: key.clone(),
            page,
            total,
            rows: Vec::new(),
        }
    }

    #[test]
    fn the_first_page_is_read_before_any_other_and_tells_the_total() {
        let mut cache = PageCache::default();
        let key = TableKey {
            class: Some(Class::Matched),
            filter: String::new(),
        };
        cache.reset(key.clone());
        assert_eq!(cache.wanted(0, 500), vec![0]);
        assert_eq!(
            cache.wanted(0, 500),
            Vec::<u64>::new(),
            "one read at a time"
        );
        cache.take(read(&key, 0, Some(1_000)));
        assert_eq!(cache.total(), Some(1_000));
        assert_eq!(cache.wanted(150, 450), vec![1, 2], "at most two in flight");
        assert_eq!(cache.wanted(950, 2_000), Vec::<u64>::new());
    }

    #[test]
    fn pages_past_the_end_are_never_asked_and_few_pages_are_kept() {
        let mut cache = PageCache::default();
        let key = TableKey::default();
        cache.reset(key.clone());
        cache.wanted(0, 0);
        cache.take(read(&key, 0, Some(250)));
        assert_eq!(cache.wanted(0, 10_000), vec![1, 2]);
        for page in 1..40 {
            cache.take(read(&key, page, None));
        }
        assert_eq!(cache.pages_held(), CACHE_PAGES);
        assert!(
            cache.row(39 * u64::from(PAGE_ROWS)).is_none(),
            "pages are empty"
        );
    }

    #[test]
    fn a_page_of_another_filter_is_dropped() {
        let mut cache = PageCache::default();
        let old = TableKey {
            class: None,
            filter: "a".into(),
        };
        cache.reset(old.clone());
        cache.wanted(0, 10);
        cache.reset(TableKey {
            class: None,
            filter: "ab".into(),
        });
        cache.take(read(&old, 0, Some(5)));
        assert_eq!(cache.total(), None);
        assert_eq!(cache.pages_held(), 0);
    }
}
