//! Versioned schema migrations: an ordered list of SQL scripts per backend; a database records
//! the last one applied, and opening it applies the rest in one transaction each.

/// The SQLite scripts, version 1 first.
pub(crate) const SQLITE: &[&str] = &[include_str!("../migrations/sqlite/0001_initial.sql")];

/// Brings a SQLite database up to the newest schema (`PRAGMA user_version` holds the version).
pub(crate) fn sqlite(conn: &mut rusqlite::Connection) -> Result<(), crate::StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = SQLITE.len() as i64;
    if found > known {
        return Err(crate::StoreError::SchemaTooNew { found, known });
    }
    for (i, script) in SQLITE.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)?;
        tx.execute_batch(script)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
