//! Deriving one database's URL from another's, by string surgery: the `url` crate is not a
//! dependency, and sqlx rebuilds URLs from its options, which would drop parameters it ignores.

/// `url` with its database replaced by `name`; user, password, host, port and query parameters are
/// kept. A `dbname` query parameter, which would override the path, is replaced too.
pub(super) fn with_database(url: &str, name: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (url, None),
    };
    let authority_start = before_query.find("://").map_or(0, |i| i + 3);
    let rest = &before_query[authority_start..];
    // A password may hold an unencoded '/', so the authority ends at the first '/' after the '@'.
    let host_start = rest.rfind('@').map_or(0, |i| i + 1);
    let authority_end = rest[host_start..]
        .find('/')
        .map_or(rest.len(), |i| host_start + i);

    let encoded = percent_encode(name);
    let mut out = String::with_capacity(url.len() + name.len());
    out.push_str(&before_query[..authority_start + authority_end]);
    out.push('/');
    out.push_str(&encoded);
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("dbname", _)) => format!("dbname={encoded}"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// `url` with its password replaced by `***`, for logs and error messages.
pub(super) fn redacted(url: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let before_query = rest.split_once('?').map_or(rest, |(before, _)| before);
    let Some(at) = before_query.rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => {
            format!("{}{user}:***{}", &url[..authority_start], &rest[at..])
        }
        None => url.to_owned(),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_and_everything_else_kept() {
        let url = "postgres://alice:p%40ss@db.example:6543/app?sslmode=disable&application_name=x";
        assert_eq!(
            with_database(url, "other"),
            "postgres://alice:p%40ss@db.example:6543/other?sslmode=disable&application_name=x"
        );
    }

    #[test]
    fn a_url_without_a_database_gets_one() {
        assert_eq!(
            with_database("postgres://u@h:5432", "db"),
            "postgres://u@h:5432/db"
        );
        assert_eq!(
            with_database("postgresql://h?sslmode=require", "db"),
            "postgresql://h/db?sslmode=require"
        );
    }

    #[test]
    fn a_password_with_a_slash_is_not_taken_for_the_path() {
        assert_eq!(
            with_database("postgres://u:a/b@h/old", "new"),
            "postgres://u:a/b@h/new"
        );
    }

    #[test]
    fn a_dbname_parameter_is_replaced_too() {
        assert_eq!(
            with_database("postgres://u@h/old?dbname=old&port=5433", "new"),
            "postgres://u@h/new?dbname=new&port=5433"
        );
    }

    #[test]
    fn unix_socket_urls_keep_their_host_parameter() {
        assert_eq!(
            with_database("postgres:///old?host=/var/run/postgresql", "new"),
            "postgres:///new?host=/var/run/postgresql"
        );
    }

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(
            with_database("postgres://h/x", "a b/c"),
            "postgres://h/a%20b%2Fc"
        );
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redacted("postgres://u:secret@h:1/db?x=1"),
            "postgres://u:***@h:1/db?x=1"
        );
        assert_eq!(redacted("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redacted("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redacted("postgres://h/db?application_name=a:b@c"),
            "postgres://h/db?application_name=a:b@c"
        );
    }
}
