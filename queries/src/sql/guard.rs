//! The read-only guard: which statements the SQL API runs at all.
//!
//! Two layers: the parsed statement must be a read (checked here, before planning, so that
//! `COPY missing_table TO …` is refused as a write rather than reported as a missing table),
//! and the logical plan must pass DataFusion's own `SQLOptions` with DDL, DML and
//! statements disallowed (catching writes hidden in a query, such as `SELECT … INTO`).
//!
//! A read may still name things outside the live catalog: a file or URL as a table
//! (`SELECT * FROM '/etc/passwd'`) or a table function that reads files (`read_csv(…)`).
//! Those are refused too: a table name that looks like a path or URL, and every table
//! function except the generators in [`ALLOWED_TABLE_FUNCTIONS`].

use std::ops::ControlFlow;

use datafusion::execution::context::SQLOptions;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{ObjectName, Statement, TableFactor, Visit, Visitor};

use super::QueryError;

/// Table functions that compute rows rather than read them from somewhere.
pub(crate) const ALLOWED_TABLE_FUNCTIONS: [&str; 2] = ["generate_series", "range"];

/// Refuses statements that are not reads, and reads of files, URLs or table functions.
pub(crate) fn check_statement(statement: &DfStatement) -> Result<(), QueryError> {
    match statement {
        DfStatement::Statement(inner) => match inner.as_ref() {
            Statement::Query(_)
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ExplainTable { .. } => check_sources(inner),
            Statement::Explain { statement, .. } => check_statement(&DfStatement::Statement(statement.clone())),
            other => Err(QueryError::Forbidden(first_words(&other.to_string()))),
        },
        DfStatement::Explain(explain) => check_statement(&explain.statement),
        DfStatement::CreateExternalTable(_) => Err(QueryError::Forbidden("CREATE EXTERNAL TABLE".into())),
        DfStatement::CopyTo(_) => Err(QueryError::Forbidden("COPY".into())),
        DfStatement::Reset(_) => Err(QueryError::Forbidden("RESET".into())),
    }
}

/// Whether `statement` is a query without its own `LIMIT` / `FETCH` (the default row limit
/// applies to those only).
pub(crate) fn lacks_limit(statement: &DfStatement) -> bool {
    match statement {
        DfStatement::Statement(inner) => match inner.as_ref() {
            Statement::Query(query) => query.limit_clause.is_none() && query.fetch.is_none(),
            _ => false,
        },
        _ => false,
    }
}

/// DataFusion's plan-level check with every write disallowed.
pub(crate) fn read_only_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Walks every table factor of a read for files, URLs and table functions.
fn check_sources(statement: &Statement) -> Result<(), QueryError> {
    match statement.visit(&mut SourceCheck) {
        ControlFlow::Break(reason) => Err(QueryError::Forbidden(reason)),
        ControlFlow::Continue(()) => Ok(()),
    }
}

struct SourceCheck;

impl Visitor for SourceCheck {
    type Break = String;

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<String> {
        match factor {
            TableFactor::Table {
                name, args: Some(_), ..
            } => {
                let function = object_name(name);
                if ALLOWED_TABLE_FUNCTIONS.contains(&function.to_ascii_lowercase().as_str()) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(format!(
                        "table function `{function}` (only {} are allowed)",
                        ALLOWED_TABLE_FUNCTIONS.join(", ")
                    ))
                }
            }
            TableFactor::Table { name, .. } if looks_like_path(name) => {
                ControlFlow::Break(format!("reading the file or URL {name} as a table"))
            }
            TableFactor::TableFunction { .. } | TableFactor::Function { .. } => {
                ControlFlow::Break("table functions in FROM".to_string())
            }
            _ => ControlFlow::Continue(()),
        }
    }
}

/// The last part of a (possibly qualified) name.
fn object_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map_or_else(|| name.to_string(), |ident| ident.value.clone())
}

/// A table name part that holds a path separator, a URL scheme or a file extension; our
/// tables are plain identifiers (`sensor_stats`, `system.dlq`).
fn looks_like_path(name: &ObjectName) -> bool {
    name.0.iter().any(|part| {
        part.as_ident()
            .is_some_and(|ident| ident.value.contains(['/', '\\', ':', '.', '~']))
    })
}

/// The statement's leading keywords, for the error message.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
