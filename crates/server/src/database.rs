//! The store `--database` names: a `postgres://` URL (one node of many) or a SQLite file path,
//! and how that name is shown in messages: without credentials. A database URL may carry a
//! password in its user information and secrets in its query (`password`, `sslpassword`,
//! `passfile`, `sslkey`, `options`, ...); only the user name, the hosts, ports and database,
//! and the values of query parameters known to hold no secret are shown, every other value is
//! `***`.

use std::path::PathBuf;
use std::sync::Arc;

use servicetask_history::is_postgres_url;
use servicetask_store::{PostgresStore, SqliteStore, Store, StoreError};

use crate::ServerError;

/// What stands in for a hidden value.
const HIDDEN: &str = "***";

/// libpq connection parameters whose values are shown (anything else may be a secret).
const SHOWN_PARAMETERS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "sslmode",
    "connect_timeout",
    "application_name",
    "target_session_attrs",
    "load_balance_hosts",
    "channel_binding",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
];

/// Opens the store named by `database`: a `postgres://` URL (one of many nodes; a pool of
/// `connections`), else a SQLite file path.
pub async fn open_store(database: &str, connections: usize) -> Result<Arc<dyn Store>, ServerError> {
    let failed = |source| ServerError::Store {
        database: redact_database_url(database),
        source,
    };
    if is_postgres_url(database) {
        let store = PostgresStore::connect(database, connections).await.map_err(failed)?;
        return Ok(Arc::new(store));
    }
    let path = PathBuf::from(database);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| failed(StoreError::Database(e.to_string())))?;
    }
    Ok(Arc::new(SqliteStore::open(&path).map_err(failed)?))
}

/// `database` as it may be shown: a file path as given, a URL without its credentials (see the
/// module documentation). The one redaction of a database name: `serve` and `report` use it.
pub fn redact_database_url(database: &str) -> String {
    let Some((scheme, rest)) = database.split_once("://") else {
        return database.to_string();
    };
    // the fragment is never sent: drop it
    let rest = rest.split('#').next().unwrap_or("");
    // user information ends at the last '@' (a password may hold one unescaped)
    let (user, rest) = match rest.rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            // a user name never holds these: if it seems to, the '@' was in the query
            // and all of it is hidden
            let user = if user.contains(['/', '?', '&', '=']) {
                HIDDEN
            } else {
                user
            };
            (Some(user), &rest[at + 1..])
        }
        None => (None, rest),
    };
    let (place, query) = match rest.split_once('?') {
        Some((place, query)) => (place, Some(query)),
        None => (rest, None),
    };
    let mut out = format!("{scheme}://");
    if let Some(user) = user {
        out.push_str(user);
        out.push(':');
        out.push_str(HIDDEN);
        out.push('@');
    }
    out.push_str(place);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) if SHOWN_PARAMETERS.contains(&name) => format!("{name}={value}"),
                Some((name, _)) => format!("{name}={HIDDEN}"),
                None => pair.to_string(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_user_information_and_the_query_are_hidden() {
        let url = "postgres://ann:pw1@db-1:5432,db-2/orders?sslmode=require&password=pw2&sslpassword=pw3&application_name=st&options=-c%20secret%3Dpw4#pw5";
        let shown = redact_database_url(url);
        assert_eq!(
            shown,
            "postgres://ann:***@db-1:5432,db-2/orders?sslmode=require&password=***&sslpassword=***&application_name=st&options=***"
        );
        for secret in ["pw1", "pw2", "pw3", "pw4", "pw5"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn an_at_sign_in_the_password_or_the_query_leaks_nothing() {
        assert_eq!(
            redact_database_url("postgres://ann:p@ss@db/x"),
            "postgres://ann:***@db/x"
        );
        let s = redact_database_url("postgres://db/x?password=pw1&application_name=a@b");
        assert!(!s.contains("pw1"), "{s}");
        let s = redact_database_url("postgresql://db/x?PassWord=pw1&Host=h");
        assert!(
            !s.contains("pw1"),
            "names are compared as written; unknown ones hidden: {s}"
        );
    }

    #[test]
    fn file_paths_and_plain_urls_are_shown_as_given() {
        assert_eq!(redact_database_url("data/servicetask.db"), "data/servicetask.db");
        assert_eq!(redact_database_url("postgres://db-host/st"), "postgres://db-host/st");
    }
}
