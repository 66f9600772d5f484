//! The `--store` URL: the backend that stores the system of record, and its location.
//!
//! `sqlite://PATH` opens the embedded store at PATH (relative paths are
//! relative to the working directory). `mysql://user:pass@host:port/db` opens
//! the MySQL store. The password never appears in logs or errors: every
//! message shows [`StoreUrl::masked`].

use std::fmt;
use std::path::PathBuf;

/// Text that replaces a password in every displayed URL.
const PASSWORD_MASK: &str = "****";

/// A parsed store URL.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// The embedded SQLite store in this database file.
    Sqlite(PathBuf),
    /// A MySQL or MariaDB database.
    Mysql(MysqlUrl),
}

/// A `mysql://` URL, split into the part the driver reads and the options
/// Switchboard reads itself.
#[derive(Clone, PartialEq, Eq)]
pub struct MysqlUrl {
    /// The URL handed to `mysql_async`, without Switchboard's own query
    /// parameters.
    pub driver_url: String,
    /// Whether opening the store applies pending migrations (the default) or
    /// only checks the schema version; set by `?migrate=false`.
    pub migrate: bool,
}

/// Error parsing a store URL.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid store URL {masked}: {reason}. Use sqlite://PATH or mysql://user:password@host:port/database")]
pub struct InvalidStoreUrl {
    /// The URL with its password masked.
    pub masked: String,
    /// The reason the URL is invalid.
    pub reason: String,
}

impl StoreUrl {
    /// Parses `sqlite://PATH` or `mysql://…`.
    pub fn parse(url: &str) -> Result<StoreUrl, InvalidStoreUrl> {
        let invalid = |reason: &str| InvalidStoreUrl {
            masked: mask_password(url),
            reason: reason.to_owned(),
        };
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(invalid("the path after sqlite:// is empty"));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("mysql://") {
            return parse_mysql(url)
                .map(StoreUrl::Mysql)
                .map_err(|reason| invalid(&reason));
        }
        Err(invalid("the scheme is neither sqlite:// nor mysql://"))
    }

    /// Returns the URL with its password replaced by `****`, for logs and errors.
    pub fn masked(&self) -> String {
        match self {
            StoreUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            StoreUrl::Mysql(mysql) => mask_password(&mysql.driver_url),
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.masked())
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.masked())
    }
}

impl fmt::Debug for MysqlUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("MysqlUrl")
            .field("driver_url", &mask_password(&self.driver_url))
            .field("migrate", &self.migrate)
            .finish()
    }
}

/// Splits Switchboard's `migrate` parameter off a `mysql://` URL and checks
/// that a database is named.
fn parse_mysql(url: &str) -> Result<MysqlUrl, String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let authority_and_path = &base["mysql://".len()..];
    let database = authority_and_path
        .split_once('/')
        .map(|(_, database)| database)
        .unwrap_or("");
    if database.is_empty() {
        return Err("the URL names no database (mysql://user:password@host:port/DATABASE)".into());
    }

    let mut migrate = true;
    let mut driver_parameters = Vec::new();
    for parameter in query.split('&').filter(|parameter| !parameter.is_empty()) {
        match parameter.split_once('=') {
            Some(("migrate", "true")) => migrate = true,
            Some(("migrate", "false")) => migrate = false,
            Some(("migrate", other)) => {
                return Err(format!("migrate={other} is invalid; use true or false"));
            }
            _ => driver_parameters.push(parameter),
        }
    }
    let driver_url = if driver_parameters.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", driver_parameters.join("&"))
    };
    Ok(MysqlUrl {
        driver_url,
        migrate,
    })
}

/// Replaces the password of a `scheme://user:password@host/…` URL with `****`.
/// Text that is not such a URL is returned unchanged.
pub fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    // The last '@' ends the user information, because a password may contain '@'.
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}{PASSWORD_MASK}{}",
        &url[..authority_start],
        &authority[..=colon],
        &url[authority_start + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_url_keeps_path() {
        assert_eq!(
            StoreUrl::parse("sqlite://data/switchboard.db").unwrap(),
            StoreUrl::Sqlite(PathBuf::from("data/switchboard.db"))
        );
        assert_eq!(
            StoreUrl::parse("sqlite:///var/lib/sb.db").unwrap(),
            StoreUrl::Sqlite(PathBuf::from("/var/lib/sb.db"))
        );
    }

    #[test]
    fn mysql_url_masks_password() {
        let url = StoreUrl::parse("mysql://sb:s3cr@t@db.local:3306/switchboard").unwrap();
        assert_eq!(url.masked(), "mysql://sb:****@db.local:3306/switchboard");
        assert!(!format!("{url:?}").contains("s3cr"));
        assert!(!url.to_string().contains("s3cr"));
    }

    #[test]
    fn mysql_url_without_password_is_unchanged() {
        let url = StoreUrl::parse("mysql://root@127.0.0.1:3306/sb").unwrap();
        assert_eq!(url.masked(), "mysql://root@127.0.0.1:3306/sb");
    }

    #[test]
    fn migrate_parameter_is_removed() {
        let StoreUrl::Mysql(url) =
            StoreUrl::parse("mysql://u:p@h/db?migrate=false&pool_max=3").unwrap()
        else {
            panic!("expected a MySQL URL");
        };
        assert!(!url.migrate);
        assert_eq!(url.driver_url, "mysql://u:p@h/db?pool_max=3");
    }

    #[test]
    fn invalid_urls_are_rejected_masked() {
        let error = StoreUrl::parse("postgres://u:hunter2@h/db").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(StoreUrl::parse("mysql://u:hunter2@h:3306").is_err());
        assert!(StoreUrl::parse("mysql://u:p@h/db?migrate=maybe").is_err());
        assert!(StoreUrl::parse("sqlite://").is_err());
    }
}
