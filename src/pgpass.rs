//! libpq's password file (`~/.pgpass`, or the file `PGPASSFILE` / `passfile` names), read the way
//! libpq reads it, so a password that works for `psql` works for Marquee.
//!
//! Each line is `hostname:port:database:username:password`; `*` in any of the first four fields
//! matches anything, `\:` and `\\` stand for `:` and `\`, `#` starts a comment line, and the first
//! matching line wins. A connection over the default Unix socket directory matches `localhost`.
//! Like libpq, a file that its group or others may read is not used: a warning says so and how
//! to fix it. The password found is handed to the connection only (the caller wraps it in
//! `config::Secret` at once); it is never stored elsewhere.

use std::path::Path;

/// The socket directory libpq was built with on Debian and Ubuntu: a connection through it
/// counts as `localhost`, as in libpq.
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/run/postgresql"];

/// What the connection is to, as the file's first four fields see it.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// Host name, address, or socket directory.
    pub host: &'a str,
    /// Port.
    pub port: u16,
    /// Database.
    pub dbname: &'a str,
    /// Role.
    pub user: &'a str,
}

/// Why a password file was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PassFileError {
    /// Its group or others may read it.
    #[error(
        "the password file {path} can be read by other users (mode {mode:04o}), so it is not used \
         (libpq refuses it too); run `chmod 600 {path}`"
    )]
    TooOpen {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// It exists but could not be read.
    #[error("the password file {path} could not be read: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
}

/// The password for `target` in the file at `path`; `Ok(None)` when the file does not exist or
/// has no matching line.
pub fn lookup(path: &Path, target: Target<'_>) -> Result<Option<String>, PassFileError> {
    let shown = path.display().to_string();
    let metadata = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(PassFileError::Unreadable {
                path: shown,
                reason: e.to_string(),
            });
        }
    };
    if !metadata.is_file() {
        return Ok(None);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(PassFileError::TooOpen { path: shown, mode });
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| PassFileError::Unreadable {
        path: shown,
        reason: e.to_string(),
    })?;
    Ok(find(&text, target))
}

/// The password of the first line of `text` that matches `target`.
pub fn find(text: &str, target: Target<'_>) -> Option<String> {
    let host = if target.host.is_empty() || DEFAULT_SOCKET_DIRS.contains(&target.host) {
        "localhost"
    } else {
        target.host
    };
    let port = target.port.to_string();
    let wanted = [host, port.as_str(), target.dbname, target.user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .find_map(|line| {
            let fields = split_fields(line)?;
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            matches.then(|| fields[4].clone())
        })
}

/// The five fields of a line, unescaped; `None` for a line with fewer than five.
fn split_fields(line: &str) -> Option<[String; 5]> {
    let mut fields: Vec<String> = vec![String::new()];
    let mut chars = line.trim_end_matches('\r').chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut()?.push(next);
                }
            }
            // The password is the rest of the line, colons and all.
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut()?.push(c),
        }
    }
    fields.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(host: &'a str, port: u16, dbname: &'a str, user: &'a str) -> Target<'a> {
        Target {
            host,
            port,
            dbname,
            user,
        }
    }

    #[test]
    fn the_first_matching_line_wins_and_stars_match_anything() {
        let text = "# comment\n\
                    db.example:5432:movies:ann:first\n\
                    *:5432:*:ann:second\n\
                    *:*:*:*:last\n";
        assert_eq!(
            find(text, target("db.example", 5432, "movies", "ann")).as_deref(),
            Some("first")
        );
        assert_eq!(
            find(text, target("other", 5432, "x", "ann")).as_deref(),
            Some("second")
        );
        assert_eq!(
            find(text, target("other", 6432, "x", "bob")).as_deref(),
            Some("last")
        );
        assert_eq!(
            find(
                "db:5432:movies:ann:pw\n",
                target("db", 5433, "movies", "ann")
            ),
            None
        );
        assert_eq!(
            find("too:few:fields\n", target("too", 5432, "few", "fields")),
            None
        );
    }

    #[test]
    fn escapes_and_colons_in_the_password_are_read_as_libpq_does() {
        let text = r"h\:1:5432:d\\b:u:pa\:ss:word";
        assert_eq!(
            find(text, target("h:1", 5432, r"d\b", "u")).as_deref(),
            Some("pa:ss:word")
        );
    }

    #[test]
    fn the_default_socket_directory_counts_as_localhost() {
        let text = "localhost:5432:movies:ann:local\n/srv/sock:5432:movies:ann:other\n";
        for host in ["", "/var/run/postgresql", "/run/postgresql"] {
            assert_eq!(
                find(text, target(host, 5432, "movies", "ann")).as_deref(),
                Some("local"),
                "{host:?}"
            );
        }
        assert_eq!(
            find(text, target("/srv/sock", 5432, "movies", "ann")).as_deref(),
            Some("other")
        );
    }

    #[test]
    fn a_file_others_can_read_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("marquee-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pgpass");
        std::fs::write(&path, "*:*:*:*:secret\n").unwrap();
        let t = target("h", 5432, "d", "u");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = lookup(&path, t).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(&path, t).unwrap().as_deref(), Some("secret"));
        assert!(lookup(&dir.join("missing"), t).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
