//! The records this scheduler read or wrote last, so that applying a worker's report needs
//! no read: a one-time timer's report comes moments after its firing, against the record its
//! wake-up was checked with. Only a hint: the write that follows is a compare-and-set on the
//! remembered revision, so a copy another scheduler has made stale fails it and the report is
//! applied to a fresh read instead. Bounded, so memory follows the fire rate, not the number
//! of pending timers.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use ontime_core::TimerKey;
use ontime_core::timer::TimerRecord;

pub struct Recent {
    records: Mutex<LruCache<TimerKey, (TimerRecord, u64)>>,
}

impl Recent {
    pub fn new(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            records: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// Remembers `record` at `revision`, the newest copy this scheduler knows of.
    pub fn put(&self, record: TimerRecord, revision: u64) {
        let mut records = self.records.lock().expect("recent records lock");
        records.put(record.key(), (record, revision));
    }

    /// Takes the remembered copy of `key`'s record, if any (whoever uses it writes, and
    /// remembers what it wrote).
    pub fn take(&self, key: &TimerKey) -> Option<(TimerRecord, u64)> {
        self.records.lock().expect("recent records lock").pop(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_record as record;

    #[test]
    fn remembers_the_newest_copy_and_forgets_the_oldest_beyond_capacity() {
        let recent = Recent::new(2);
        let (a, b, c) = (record("a"), record("b"), record("c"));
        recent.put(a.clone(), 1);
        recent.put(a.clone(), 2);
        recent.put(b.clone(), 1);
        recent.put(c.clone(), 1);
        assert!(
            recent.take(&a.key()).is_none(),
            "a was the least recently used"
        );
        assert_eq!(recent.take(&b.key()).map(|(_, r)| r), Some(1));
        assert!(recent.take(&b.key()).is_none(), "taken once");
        assert_eq!(recent.take(&c.key()).map(|(_, r)| r), Some(1));
    }
}
