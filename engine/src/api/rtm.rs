//! `rtm.connect` and the single-use socket tickets it hands out.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use rand::RngCore;
use serde_json::json;

use switchboard_actors::ids::{BotId, TeamId, UserId};
use switchboard_actors::ApiError;

use super::{fields, internal, Api, Caller, MethodResult};

/// How long a ticket stays valid.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// What a ticket grants: one socket for one user.
#[derive(Clone, Debug)]
pub struct Ticket {
    /// Team of the user.
    pub team_id: TeamId,
    /// The user.
    pub user_id: UserId,
    /// Bot integration of a bot user.
    pub bot_id: Option<BotId>,
    /// Whether the socket was asked for by `client.boot`, so its session gets
    /// profiles pushed before the messages that need them.
    pub push_profiles: bool,
    /// When the ticket stops being valid.
    pub expires: Instant,
}

/// Issued tickets by their secret text.
#[derive(Default)]
pub struct Tickets {
    /// Ticket text to grant.
    issued: DashMap<String, Ticket>,
}

impl Tickets {
    /// Issues a ticket valid for [`TICKET_TTL`] and returns its text.
    pub fn issue(
        &self,
        team_id: TeamId,
        user_id: UserId,
        bot_id: Option<BotId>,
        push_profiles: bool,
    ) -> String {
        self.sweep();
        let mut secret = [0u8; 24];
        rand::rng().fill_bytes(&mut secret);
        let text = hex::encode(secret);
        let ticket = Ticket {
            team_id,
            user_id,
            bot_id,
            push_profiles,
            expires: Instant::now() + TICKET_TTL,
        };
        self.issued.insert(text.clone(), ticket);
        text
    }

    /// Takes a ticket: it is removed whether or not it is still valid, so a
    /// ticket opens at most one socket.
    pub fn redeem(&self, text: &str) -> Result<Ticket, ApiError> {
        let (_, ticket) = self.issued.remove(text).ok_or(ApiError::InvalidTicket)?;
        if ticket.expires <= Instant::now() {
            return Err(ApiError::InvalidTicket);
        }
        Ok(ticket)
    }

    /// Drops expired tickets.
    fn sweep(&self) {
        let now = Instant::now();
        self.issued.retain(|_, ticket| ticket.expires > now);
    }
}

/// `rtm.connect`: a `ws://` URL with a fresh ticket.
pub async fn connect(api: &Api, caller: &Caller, host: Option<&str>) -> MethodResult {
    connect_with(api, caller, host, false).await
}

/// Issues a socket URL; `push_profiles` turns on the proactive profile push for
/// the session it opens.
pub(super) async fn connect_with(
    api: &Api,
    caller: &Caller,
    host: Option<&str>,
    push_profiles: bool,
) -> MethodResult {
    let team = api
        .hub
        .store()
        .team(caller.team_id())
        .await
        .map_err(internal("team lookup"))?
        .ok_or(ApiError::TeamNotFound)?;
    let ticket = api.tickets.issue(
        team.id.clone(),
        caller.user.id.clone(),
        caller.user.bot_id.clone(),
        push_profiles,
    );
    let base = api.base_url(host);
    let socket_base = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            base.strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or(base);
    fields(json!({
        "url": format!("{socket_base}/rtm?ticket={ticket}"),
        "team": { "id": team.id, "name": team.name, "domain": team.domain },
        "self": { "id": caller.user.id, "name": caller.user.name },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_is_single_use() {
        let tickets = Tickets::default();
        let text = tickets.issue(TeamId::from("T1"), UserId::from("U1"), None, false);
        assert_eq!(tickets.redeem(&text).unwrap().user_id, UserId::from("U1"));
        assert_eq!(tickets.redeem(&text).unwrap_err(), ApiError::InvalidTicket);
    }

    #[test]
    fn expired_ticket_is_rejected() {
        let tickets = Tickets::default();
        let text = tickets.issue(TeamId::from("T1"), UserId::from("U1"), None, false);
        tickets.issued.get_mut(&text).unwrap().expires = Instant::now() - Duration::from_secs(1);
        assert_eq!(tickets.redeem(&text).unwrap_err(), ApiError::InvalidTicket);
        assert_eq!(
            tickets.redeem("unknown").unwrap_err(),
            ApiError::InvalidTicket
        );
    }
}
