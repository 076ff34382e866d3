//! Subscriptions racing a writer: the snapshot and the change stream after it, applied in
//! order, must equal the table at every frontier — nothing lost, nothing counted twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow::datatypes::{DataType, Field, FieldRef};
use arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use super::{LiveCatalog, SubscriptionClosed};
use crate::EngineError;
use crate::time::Epoch;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Row {
    k: i64,
    v: i64,
}

fn fields() -> Vec<FieldRef> {
    vec![
        Arc::new(Field::new("k", DataType::Int64, false)),
        Arc::new(Field::new("v", DataType::Int64, false)),
    ]
}

const KEYS: i64 = 5;
const EPOCHS: Epoch = 400;

/// What the writer below has committed by `frontier`: per key, the last epoch written.
fn expected_at(frontier: Epoch) -> BTreeMap<Row, i64> {
    (0..frontier.min(EPOCHS))
        .map(|e| (e as i64 % KEYS, e as i64))
        .collect::<BTreeMap<i64, i64>>()
        .into_iter()
        .map(|(k, v)| (Row { k, v }, 1))
        .collect()
}

fn rows(batch: &RecordBatch) -> Result<Vec<Row>, EngineError> {
    serde_arrow::from_record_batch(batch).map_err(|e| EngineError::Runtime(e.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_changes_equals_the_table_at_every_frontier_while_a_writer_races() -> Result<(), EngineError> {
    let catalog = Arc::new(LiveCatalog::new(1));
    let table = catalog.register::<i64, Row>("t", fields())?;
    let writer_catalog = Arc::clone(&catalog);
    let taken = Arc::new(AtomicUsize::new(0));
    let writer_taken = Arc::clone(&taken);
    // Epoch e replaces key e % KEYS's row by v = e: a retraction and an insertion. Four times
    // the writer pauses until one more subscription is taken (bounded wait), so at least three
    // surely start mid-stream; the others land wherever the scheduler puts them.
    let writer = std::thread::spawn(move || {
        for e in 0..EPOCHS {
            if e % 100 == 50 {
                let before = writer_taken.load(Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(10);
                while writer_taken.load(Ordering::SeqCst) == before && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            let k = e as i64 % KEYS;
            if let Some(old) = table.get(&k).into_iter().next() {
                table.stage([(k, old, e, -1)]);
            }
            table.stage([(k, Row { k, v: e as i64 }, e, 1)]);
            writer_catalog.report_frontier("t", 0, e + 1);
            if e % 8 == 0 {
                std::thread::yield_now();
            }
        }
        writer_catalog.report_frontier("t", 0, Epoch::MAX);
    });

    let mut subscriptions = Vec::new();
    while catalog.as_of() < EPOCHS && subscriptions.len() < 200 {
        let subscribed = catalog.read().subscribe("t", EPOCHS as usize + 1)?;
        subscriptions.extend(subscribed);
        taken.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    writer
        .join()
        .map_err(|_| EngineError::Runtime("writer panicked".into()))?;
    let mid_stream = subscriptions.iter().filter(|s| s.as_of > 0 && s.as_of < EPOCHS).count();
    assert!(mid_stream >= 3, "{mid_stream} subscriptions started mid-stream");

    for mut subscribed in subscriptions {
        let mut state: BTreeMap<Row, i64> = rows(&subscribed.snapshot)?.into_iter().map(|r| (r, 1)).collect();
        assert_eq!(state, expected_at(subscribed.as_of), "snapshot at {}", subscribed.as_of);
        let mut as_of = subscribed.as_of;
        let reason = loop {
            let batch = match tokio::time::timeout(Duration::from_secs(10), subscribed.changes.next()).await {
                Ok(Ok(batch)) => batch,
                Ok(Err(reason)) => break reason,
                Err(_) => return Err(EngineError::Runtime("no end of the change stream".into())),
            };
            assert!(batch.as_of > as_of, "frontiers increase: {} after {as_of}", batch.as_of);
            as_of = batch.as_of;
            for (row, diff) in rows(&batch.rows)?.into_iter().zip(batch.diffs.iter()) {
                let n = state.entry(row).or_insert(0);
                *n += diff;
                assert!(*n >= 0, "a change retracted what it had not inserted");
            }
            state.retain(|_, n| *n != 0);
            assert_eq!(state, expected_at(as_of), "after the changes of {as_of}");
        };
        assert_eq!(reason, SubscriptionClosed::Ended);
        assert_eq!(state, expected_at(EPOCHS), "subscribed at {}", subscribed.as_of);
    }
    Ok(())
}

#[test]
fn an_unknown_projection_is_none() -> Result<(), EngineError> {
    let catalog = LiveCatalog::new(1);
    catalog.register::<i64, Row>("t", fields())?;
    assert!(catalog.read().subscribe("nope", 4)?.is_none());
    Ok(())
}
