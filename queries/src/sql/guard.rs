//! The read-only guard: which statements the SQL API runs at all.
//!
//! Two layers: the parsed statement must be a read (checked here, before planning, so that
//! `COPY missing_table TO …` is refused as a write rather than reported as a missing table),
//! and the logical plan must pass DataFusion's own `SQLOptions` with DDL, DML and
//! statements disallowed (catching writes hidden in a query, such as `SELECT … INTO`).

use datafusion::execution::context::SQLOptions;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;

use super::QueryError;

/// Refuses statements that are not reads.
pub(crate) fn check_statement(statement: &DfStatement) -> Result<(), QueryError> {
    match statement {
        DfStatement::Statement(inner) => match inner.as_ref() {
            Statement::Query(_)
            | Statement::ShowTables { .. }
            | Statement::ShowColumns { .. }
            | Statement::ExplainTable { .. } => Ok(()),
            Statement::Explain { statement, .. } => check_statement(&DfStatement::Statement(statement.clone())),
            other => Err(QueryError::Forbidden(first_words(&other.to_string()))),
        },
        DfStatement::Explain(explain) => check_statement(&explain.statement),
        DfStatement::CreateExternalTable(_) => Err(QueryError::Forbidden("CREATE EXTERNAL TABLE".into())),
        DfStatement::CopyTo(_) => Err(QueryError::Forbidden("COPY".into())),
        DfStatement::Reset(_) => Err(QueryError::Forbidden("RESET".into())),
    }
}

/// DataFusion's plan-level check with every write disallowed.
pub(crate) fn read_only_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// The statement's leading keywords, for the error message.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
