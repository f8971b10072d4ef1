//! Console sessions: random 256-bit ids, kept server-side **in memory** (a restart signs every
//! user out), with an idle and an absolute expiry, and a CSRF token per session.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cairn_core::principal::Principal;
use chrono::{DateTime, Utc};
use rand::Rng;
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "cairn_session";

/// Sign-out after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Sign-out this long after sign-in, however active (AWS console sessions last up to 12 h).
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The cookie value: 32 random bytes, hex.
    pub id: String,
    /// The user's name.
    pub user: String,
    /// The temporary access key id the session's calls are recorded with (`ASIA...`, as AWS
    /// records console sessions).
    pub access_key_id: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// When the user signed in (the records' `sessionContext.attributes.creationDate`).
    pub created: DateTime<Utc>,
    started: Instant,
    last_seen: Instant,
}

impl Session {
    /// Whether `token` is this session's CSRF token (constant time).
    pub fn csrf_ok(&self, token: &str) -> bool {
        csrf_matches(&self.csrf, token)
    }
}

/// Compares two tokens in constant time; an empty expected token matches nothing.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// 32 random bytes from the OS-seeded CSPRNG, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    hex::encode(bytes)
}

/// Every live session.
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    idle: Duration,
    absolute: Duration,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::new(IDLE_TIMEOUT, ABSOLUTE_TIMEOUT)
    }
}

impl Sessions {
    /// Sessions with the given timeouts.
    pub fn new(idle: Duration, absolute: Duration) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            absolute,
        }
    }

    /// Starts a session for `principal`'s user.
    pub fn create(&self, principal: &Principal, created: DateTime<Utc>, now: Instant) -> Session {
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut rng = rand::rng();
        let key: String = (0..16)
            .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
            .collect();
        let session = Session {
            id: random_token(),
            user: principal.user_name.clone(),
            access_key_id: format!("ASIA{key}"),
            csrf: random_token(),
            created,
            started: now,
            last_seen: now,
        };
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Sweep expired sessions here, so the map stays bounded by the live ones.
        map.retain(|_, s| !self.expired(s, now));
        map.insert(session.id.clone(), session.clone());
        session
    }

    /// The live session `id`, its idle timer restarted; an expired one is removed.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let expired = self.expired(map.get(id)?, now);
        if expired {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends session `id` (sign-out).
    pub fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    fn expired(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) >= self.idle
            || now.duration_since(s.started) >= self.absolute
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::principal::{IdentityType, Role};

    fn alice() -> Principal {
        Principal {
            identity_type: IdentityType::IamUser,
            user_name: "alice".into(),
            principal_id: "AIDA1".into(),
            access_key_id: "AKIA1".into(),
            account_id: "123456789012".into(),
            role: Role::Admin,
        }
    }

    #[test]
    fn idle_and_absolute_expiry() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(300));
        let t0 = Instant::now();
        let s = sessions.create(&alice(), Utc::now(), t0);
        assert_eq!(s.id.len(), 64);
        assert!(s.access_key_id.starts_with("ASIA") && s.access_key_id.len() == 20);
        // Activity keeps it alive past the idle timeout...
        for m in 1..5 {
            assert!(
                sessions
                    .get(&s.id, t0 + Duration::from_secs(50 * m))
                    .is_some()
            );
        }
        // ...but not past the absolute one.
        assert!(sessions.get(&s.id, t0 + Duration::from_secs(301)).is_none());

        let s2 = sessions.create(&alice(), Utc::now(), t0);
        assert!(sessions.get(&s2.id, t0 + Duration::from_secs(61)).is_none());
        // Gone for good once found expired.
        assert!(sessions.get(&s2.id, t0).is_none());
    }

    #[test]
    fn sign_out_and_unknown_ids() {
        let sessions = Sessions::default();
        let now = Instant::now();
        let s = sessions.create(&alice(), Utc::now(), now);
        assert!(sessions.get("nope", now).is_none());
        sessions.remove(&s.id);
        assert!(sessions.get(&s.id, now).is_none());
    }

    #[test]
    fn csrf_tokens() {
        let sessions = Sessions::default();
        let s = sessions.create(&alice(), Utc::now(), Instant::now());
        assert!(s.csrf_ok(&s.csrf.clone()));
        assert!(!s.csrf_ok(""));
        assert!(!s.csrf_ok(&random_token()));
        assert!(!s.csrf_ok(&s.csrf[..10]));
        assert!(!csrf_matches("", ""));
    }
}
