//! Every Nexmark query against DataFusion batch SQL over the same generated events: the
//! streaming result after the last event must equal the SQL answer, row for row. One test
//! binary (modules below) to save link time.

mod support;

mod joins;
mod stateless;
mod windows;
