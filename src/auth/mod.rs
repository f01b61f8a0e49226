//! Authentication: the credentials a client presents, the `WWW-Authenticate` challenge parser,
//! and the Bearer token service client with its per-scope cache.

pub mod challenge;
pub(crate) mod token;

use std::fmt;

/// What a client presents to a registry.
///
/// `Debug` never shows a password or token:
///
/// ```
/// use ocireg::Credentials;
/// let c = Credentials::basic("alice", "s3cret");
/// assert!(!format!("{c:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    /// No credentials. Bearer registries still hand out anonymous tokens for public content.
    #[default]
    Anonymous,
    /// A user name and password (or a personal access token used as a password).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An OAuth2 refresh ("identity") token, exchanged at the token service with
    /// `grant_type=refresh_token` (docker's `identitytoken`).
    IdentityToken(String),
    /// A ready bearer token sent as is (docker's `registrytoken`).
    BearerToken(String),
}

impl Credentials {
    /// `Credentials::Basic` from two strings.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The credentials as the transport uses them: a user name of `<token>` (docker's and Azure's
    /// convention) means the password is an identity token, exchanged with the OAuth2
    /// refresh-token form.
    pub(crate) fn normalized(self) -> Self {
        match self {
            Credentials::Basic { username, password }
                if username == crate::credentials::helper::TOKEN_USERNAME =>
            {
                Credentials::IdentityToken(password)
            }
            other => other,
        }
    }

    /// True for [`Credentials::Anonymous`].
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Credentials::Anonymous)
    }

    /// The user name, for Basic credentials.
    pub fn username(&self) -> Option<&str> {
        match self {
            Credentials::Basic { username, .. } => Some(username),
            _ => None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
            Credentials::BearerToken(_) => f.write_str("BearerToken(<redacted>)"),
        }
    }
}
