//! enrich_with (left outer, stream ⋈ shared table) and join_projections against the oracle.
//!
//! One random event stream is split into two inputs: keys 0 and 1 carry table rows
//! `(product_id = ts mod 5, value)`, keys 2 and 3 carry orders `(order_id = ts, product_id
//! = value mod 5)`, so products arrive before, after and between their orders, are updated
//! and deleted, and a product id may hold several values.

use std::collections::BTreeMap;

use proptest::prelude::*;
use tributary_engine::Collection;
use tributary_operators::{EnrichWith, JoinProjections, Table, Upsert};

use crate::oracle::workers::check_every_epoch_on;
use crate::oracle::{Event, Multiset, check_every_epoch, keyed_events};

type Order = (i64, i64);

/// `product_id → [(value, multiplicity)]`
type Products = BTreeMap<i64, Vec<(i64, isize)>>;

/// `(product_id, (order, product value))`
type Joined = (i64, (Order, i64));

fn product((_, (ts, v)): Event) -> (i64, i64) {
    (ts.rem_euclid(5), v)
}

fn order((_, (ts, v)): Event) -> Order {
    (ts, v.rem_euclid(5))
}

fn is_product(e: &Event) -> bool {
    e.0 < 2
}

fn enrich(c: Collection<'_, Event>) -> Collection<'_, (Order, Option<i64>)> {
    let products = Table::new(c.clone().filter(is_product).map(product).arrange_by_key());
    c.filter(|e| !is_product(e))
        .map(order)
        .enrich_with(&products, |(_, product)| *product)
}

/// Orders and products as multisets: `(orders, product_id → [(value, multiplicity)])`.
fn split(input: &Multiset<Event>) -> (Multiset<Order>, Products) {
    let mut orders = Multiset::new();
    let mut products = Products::new();
    for (e, n) in input {
        if is_product(e) {
            let (id, value) = product(*e);
            products.entry(id).or_default().push((value, *n));
        } else {
            *orders.entry(order(*e)).or_insert(0) += n;
        }
    }
    (orders, products)
}

fn add<T: Ord>(set: &mut Multiset<T>, record: T, n: isize) {
    *set.entry(record).or_insert(0) += n;
    set.retain(|_, n| *n != 0);
}

fn enrich_oracle(input: &Multiset<Event>) -> Multiset<(Order, Option<i64>)> {
    let (orders, products) = split(input);
    let mut expected = Multiset::new();
    for (o, m) in orders {
        match products.get(&o.1).filter(|values| !values.is_empty()) {
            Some(values) => values
                .iter()
                .for_each(|(v, q)| add(&mut expected, (o, Some(*v)), m * q)),
            None => add(&mut expected, (o, None), m),
        }
    }
    expected
}

/// Products as an upsert table (latest value per id by `(ts, value)`), so one value per key.
fn enrich_upserted(c: Collection<'_, Event>) -> Collection<'_, (Order, Option<i64>)> {
    let changes = c
        .clone()
        .filter(is_product)
        .map(|(_, (ts, v))| (ts.rem_euclid(5), (ts, Some(v))));
    let products = Table::new(changes.upsert().arrange_by_key());
    c.filter(|e| !is_product(e))
        .map(order)
        .enrich_with(&products, |(_, product)| *product)
}

fn enrich_upserted_oracle(input: &Multiset<Event>) -> Multiset<(Order, Option<i64>)> {
    let mut latest: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for e in input.keys().filter(|e| is_product(e)) {
        let (_, (ts, v)) = *e;
        let current = latest.entry(ts.rem_euclid(5)).or_insert((ts, v));
        *current = (*current).max((ts, v));
    }
    let mut expected = Multiset::new();
    for e in input.keys().filter(|e| !is_product(e)) {
        let o = order(*e);
        add(&mut expected, (o, latest.get(&o.1).map(|(_, v)| *v)), input[e]);
    }
    expected
}

fn join(c: Collection<'_, Event>) -> Collection<'_, Joined> {
    let products = c.clone().filter(is_product).map(product).arrange_by_key();
    c.filter(|e| !is_product(e))
        .map(order)
        .map(|o| (o.1, o))
        .join_projections(&products)
}

fn join_oracle(input: &Multiset<Event>) -> Multiset<Joined> {
    let (orders, products) = split(input);
    let mut expected = Multiset::new();
    for (o, m) in orders {
        for (v, q) in products.get(&o.1).into_iter().flatten() {
            add(&mut expected, (o.1, (o, *v)), m * q);
        }
    }
    expected
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn enrich_with_is_a_left_outer_join(epochs in keyed_events()) {
        check_every_epoch(epochs, enrich, |input, output| {
            prop_assert_eq!(output, &enrich_oracle(input));
            Ok(())
        })?;
    }

    #[test]
    fn enrich_with_an_upsert_table(epochs in keyed_events()) {
        check_every_epoch(epochs, enrich_upserted, |input, output| {
            prop_assert_eq!(output, &enrich_upserted_oracle(input));
            Ok(())
        })?;
    }

    #[test]
    fn join_projections_is_an_inner_join(epochs in keyed_events()) {
        check_every_epoch(epochs, join, |input, output| {
            prop_assert_eq!(output, &join_oracle(input));
            Ok(())
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn enrich_with_on_two_workers(epochs in keyed_events()) {
        check_every_epoch_on(2, epochs, enrich, |input, output| {
            prop_assert_eq!(output, &enrich_oracle(input));
            Ok(())
        })?;
    }
}
