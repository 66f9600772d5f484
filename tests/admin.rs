//! Roles, the permission policy and the admin server, over real sockets. The
//! tests cover a table of methods against roles, and deactivation and session
//! reset of live sockets, through the API and through the `switchboard admin`
//! command line while the node runs. They also cover guest visibility and the
//! audit log.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use switchboard_actors::domain::Role;
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_engine::directory::{create_token, create_user, NewUser};

use common::{Socket, TestNode, EVENT_TIMEOUT};

/// Source of unique user and channel names within one test.
static NEXT_NAME: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", NEXT_NAME.fetch_add(1, Ordering::Relaxed))
}

/// Creates a user with a role and a token; guests are invited through
/// `admin.users.invite` by the primary owner, limited to `guest_channel`.
async fn make_user(node: &TestNode, role: Role, guest_channel: &str) -> (String, String) {
    let store = node.engine.hub().store().clone();
    let team = &node.bootstrap.team_id;
    let name = unique(role.as_str().replace('_', "-").as_str());
    if role.is_guest() {
        let mut args = json!({
            "email": format!("{name}@example.com"),
            "name": name,
            "channel_ids": guest_channel,
        });
        let flag = if role == Role::SingleChannelGuest {
            "is_ultra_restricted"
        } else {
            "is_restricted"
        };
        args[flag] = true.into();
        let primary = &node.bootstrap.admin.token;
        let invited = node.call_ok("admin.users.invite", primary, args).await;
        let id = invited["user"]["id"].as_str().unwrap().to_owned();
        let token = create_token(store.as_ref(), team, &UserId::from(id.as_str()))
            .await
            .unwrap();
        return (id, token);
    }
    if role == Role::PrimaryOwner {
        return (
            node.bootstrap.admin.user_id.to_string(),
            node.bootstrap.admin.token.clone(),
        );
    }
    let user = create_user(
        store.as_ref(),
        team,
        NewUser {
            name,
            role: Some(role),
            ..NewUser::default()
        },
    )
    .await
    .unwrap();
    let token = create_token(store.as_ref(), team, &user.id).await.unwrap();
    (user.id.to_string(), token)
}

/// Creates a channel as the primary owner and adds `members` to it.
async fn owner_channel(node: &TestNode, private: bool, members: &[&str]) -> String {
    let primary = &node.bootstrap.admin.token;
    let created = node
        .call_ok(
            "conversations.create",
            primary,
            json!({"name": unique("room-"), "is_private": private}),
        )
        .await;
    let channel = created["channel"]["id"].as_str().unwrap().to_owned();
    let others: Vec<&str> = members
        .iter()
        .copied()
        .filter(|id| *id != node.bootstrap.admin.user_id.as_str())
        .collect();
    if !others.is_empty() {
        node.call_ok(
            "conversations.invite",
            primary,
            json!({"channel": channel, "users": others.join(",")}),
        )
        .await;
    }
    channel
}

/// The roles of the table, in column order.
const ROLES: [Role; 6] = [
    Role::PrimaryOwner,
    Role::Owner,
    Role::Admin,
    Role::Member,
    Role::MultiChannelGuest,
    Role::SingleChannelGuest,
];

/// The methods of the table. Each cell runs against fresh channels and targets.
#[derive(Clone, Copy, Debug)]
enum Case {
    CreatePublic,
    CreatePrivate,
    RenameOthersChannel,
    ArchiveOthersChannel,
    KickFromPublic,
    KickFromPrivate,
    KickSelf,
    InfoOfUngivenPublic,
    PostInOwnChannel,
    PostInUngivenPublic,
    InviteToChannel,
    SetAdmin,
    SetOwner,
    SetRegularOnOwner,
    SetRegularOnPrimaryOwner,
    Remove,
    SessionReset,
    InviteGuest,
    AuditList,
}

/// Runs one cell: the user `actor_id`, with token `actor`, calls the case's
/// method. Returns the error string, or "ok".
async fn run_case(node: &TestNode, case: Case, actor_id: &str, actor: &str) -> String {
    let primary_id = node.bootstrap.admin.user_id.to_string();
    let body = match case {
        Case::CreatePublic | Case::CreatePrivate => {
            let private = matches!(case, Case::CreatePrivate);
            node.call(
                "conversations.create",
                actor,
                json!({"name": unique("made-"), "is_private": private}),
            )
            .await
        }
        Case::RenameOthersChannel => {
            let channel = owner_channel(node, false, &[actor_id]).await;
            node.call(
                "conversations.rename",
                actor,
                json!({"channel": channel, "name": unique("renamed-")}),
            )
            .await
        }
        Case::ArchiveOthersChannel => {
            let channel = owner_channel(node, false, &[actor_id]).await;
            node.call("conversations.archive", actor, json!({"channel": channel}))
                .await
        }
        Case::KickFromPublic | Case::KickFromPrivate => {
            let (victim, _) = make_user(node, Role::Member, "").await;
            let private = matches!(case, Case::KickFromPrivate);
            let channel = owner_channel(node, private, &[actor_id, &victim]).await;
            node.call(
                "conversations.kick",
                actor,
                json!({"channel": channel, "user": victim}),
            )
            .await
        }
        Case::KickSelf => {
            let channel = owner_channel(node, false, &[actor_id]).await;
            node.call(
                "conversations.kick",
                actor,
                json!({"channel": channel, "user": actor_id}),
            )
            .await
        }
        Case::InfoOfUngivenPublic => {
            let channel = owner_channel(node, false, &[]).await;
            node.call("conversations.info", actor, json!({"channel": channel}))
                .await
        }
        Case::PostInOwnChannel => {
            let channel = owner_channel(node, false, &[actor_id]).await;
            node.call(
                "chat.postMessage",
                actor,
                json!({"channel": channel, "text": "hello"}),
            )
            .await
        }
        Case::PostInUngivenPublic => {
            let channel = owner_channel(node, false, &[]).await;
            node.call(
                "chat.postMessage",
                actor,
                json!({"channel": channel, "text": "hello"}),
            )
            .await
        }
        Case::InviteToChannel => {
            let (invitee, _) = make_user(node, Role::Member, "").await;
            let channel = owner_channel(node, false, &[actor_id]).await;
            node.call(
                "conversations.invite",
                actor,
                json!({"channel": channel, "users": invitee}),
            )
            .await
        }
        Case::SetAdmin | Case::SetOwner | Case::Remove | Case::SessionReset => {
            let (target, _) = make_user(node, Role::Member, "").await;
            let method = match case {
                Case::SetAdmin => "admin.users.setAdmin",
                Case::SetOwner => "admin.users.setOwner",
                Case::Remove => "admin.users.remove",
                _ => "admin.users.session.reset",
            };
            node.call(method, actor, json!({"user_id": target})).await
        }
        Case::SetRegularOnOwner => {
            let (target, _) = make_user(node, Role::Owner, "").await;
            node.call("admin.users.setRegular", actor, json!({"user_id": target}))
                .await
        }
        Case::SetRegularOnPrimaryOwner => {
            node.call(
                "admin.users.setRegular",
                actor,
                json!({"user_id": primary_id}),
            )
            .await
        }
        Case::InviteGuest => {
            let channel = owner_channel(node, false, &[]).await;
            let name = unique("invited-");
            node.call(
                "admin.users.invite",
                actor,
                json!({"email": format!("{name}@example.com"), "name": name,
                       "channel_ids": channel, "is_restricted": true}),
            )
            .await
        }
        Case::AuditList => node.call("admin.audit.list", actor, json!({})).await,
    };
    if body["ok"] == true {
        "ok".to_owned()
    } else {
        body["error"]
            .as_str()
            .unwrap_or("no error string")
            .to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_against_roles_table() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;

    // Expected outcome per role, in the order of ROLES: primary owner, owner,
    // admin, member, multi-channel guest, single-channel guest.
    let guest_denied = "restricted_action";
    let table: Vec<(Case, [&str; 6])> = vec![
        (
            Case::CreatePublic,
            ["ok", "ok", "ok", "ok", guest_denied, guest_denied],
        ),
        (
            Case::CreatePrivate,
            ["ok", "ok", "ok", "ok", guest_denied, guest_denied],
        ),
        (
            Case::RenameOthersChannel,
            [
                "ok",
                "ok",
                "ok",
                "restricted_action",
                guest_denied,
                guest_denied,
            ],
        ),
        (
            Case::ArchiveOthersChannel,
            [
                "ok",
                "ok",
                "ok",
                "restricted_action",
                guest_denied,
                guest_denied,
            ],
        ),
        (
            Case::KickFromPublic,
            [
                "ok",
                "ok",
                "ok",
                "restricted_action",
                guest_denied,
                guest_denied,
            ],
        ),
        (
            Case::KickFromPrivate,
            ["ok", "ok", "ok", "ok", guest_denied, guest_denied],
        ),
        (
            Case::KickSelf,
            [
                "cant_kick_self",
                "cant_kick_self",
                "cant_kick_self",
                "cant_kick_self",
                "cant_kick_self",
                "cant_kick_self",
            ],
        ),
        (
            Case::InfoOfUngivenPublic,
            [
                "ok",
                "ok",
                "ok",
                "ok",
                "channel_not_found",
                "channel_not_found",
            ],
        ),
        (Case::PostInOwnChannel, ["ok", "ok", "ok", "ok", "ok", "ok"]),
        (
            Case::PostInUngivenPublic,
            [
                "ok",
                "not_in_channel",
                "not_in_channel",
                "not_in_channel",
                "channel_not_found",
                "channel_not_found",
            ],
        ),
        (
            Case::InviteToChannel,
            ["ok", "ok", "ok", "ok", guest_denied, guest_denied],
        ),
        (
            Case::SetAdmin,
            [
                "ok",
                "ok",
                "ok",
                "not_an_admin",
                "not_an_admin",
                "not_an_admin",
            ],
        ),
        (
            Case::SetOwner,
            [
                "ok",
                "ok",
                "restricted_action",
                "not_an_admin",
                "not_an_admin",
                "not_an_admin",
            ],
        ),
        (
            Case::SetRegularOnOwner,
            [
                "ok",
                "ok",
                "restricted_action",
                "not_an_admin",
                "not_an_admin",
                "not_an_admin",
            ],
        ),
        (
            Case::SetRegularOnPrimaryOwner,
            [
                "restricted_action",
                "restricted_action",
                "restricted_action",
                "not_an_admin",
                "not_an_admin",
                "not_an_admin",
            ],
        ),
        (
            Case::Remove,
            [
                "ok",
                "ok",
                "ok",
                "not_an_admin",
                "not_an_admin",
                "not_an_admin",
            ],
        ),
        (
            Case::SessionReset,
            [
                "ok",
                "ok",
                "ok",
                "not_an_admin",
                "not_an_admin",
                "not_an_admin",
            ],
        ),
        (
            Case::InviteGuest,
            [
                "ok",
                "ok",
                "ok",
                "not_an_admin",
                "not_an_admin",
                "not_an_admin",
            ],
        ),
        (
            Case::AuditList,
            [
                "ok",
                "ok",
                "restricted_action",
                "not_an_admin",
                "not_an_admin",
                "not_an_admin",
            ],
        ),
    ];

    // One actor per role; guests are given one channel of their own.
    let guest_home = owner_channel(&node, false, &[]).await;
    let mut actors = Vec::new();
    for role in ROLES {
        actors.push(make_user(&node, role, &guest_home).await);
    }

    let mut failures = Vec::new();
    for (case, expected) in &table {
        for (index, role) in ROLES.iter().enumerate() {
            let (actor_id, token) = &actors[index];
            let outcome = run_case(&node, *case, actor_id, token).await;
            if outcome != expected[index] {
                failures.push(format!(
                    "{case:?} as {}: expected {}, got {outcome}",
                    role.as_str(),
                    expected[index]
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "cells that differ:\n{}",
        failures.join("\n")
    );

    // Bot tokens may not call admin methods.
    let (member, _) = make_user(&node, Role::Member, "").await;
    let bot = node
        .call(
            "admin.users.setAdmin",
            &node.bootstrap.bot.token,
            json!({"user_id": member}),
        )
        .await;
    assert_eq!(bot["error"], "not_allowed_token_type", "{bot}");

    // Without a token, or with an unknown one.
    let missing = node.call("admin.audit.list", "", json!({})).await;
    assert_eq!(missing["error"], "not_authed", "{missing}");
    let unknown = node
        .call("admin.audit.list", "xoxp-T0NOPE-0123", json!({}))
        .await;
    assert_eq!(unknown["error"], "invalid_auth", "{unknown}");

    node.stop().await;
}

/// Reads frames until the server closes the socket; returns the close code and
/// reason. Panics when the socket stays open for [`EVENT_TIMEOUT`].
async fn wait_closed(socket: &mut Socket) -> (u16, String) {
    loop {
        let frame = tokio::time::timeout(EVENT_TIMEOUT, socket.stream.next())
            .await
            .expect("socket closed within the timeout");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => {
                return (u16::from(close.code), close.reason.to_string())
            }
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return (0, String::new()),
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_closes_session_and_revokes_token() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let primary = node.bootstrap.admin.token.clone();
    let (bob_id, bob) = node.create_user("bob").await;
    let channel = owner_channel(&node, false, &[&bob_id]).await;
    let posted = node
        .call_ok(
            "chat.postMessage",
            &bob,
            json!({"channel": channel, "text": "before deactivation"}),
        )
        .await;

    // The watcher subscribes to bob's presence before bob connects, and a
    // round trip shows the subscription applied.
    let mut watcher = node.connect(&primary).await;
    watcher
        .send(json!({"type": "presence_sub", "ids": [bob_id]}))
        .await;
    watcher.send(json!({"id": 1, "type": "ping"})).await;
    watcher.next_matching(|e| e["type"] == "pong").await;

    let mut bob_socket = node.connect(&bob).await;
    // A round trip on bob's socket: his session is registered with the team.
    bob_socket.send(json!({"id": 1, "type": "ping"})).await;
    bob_socket.next_matching(|e| e["type"] == "pong").await;
    let online = watcher
        .next_matching(|e| e["type"] == "presence_change")
        .await;
    assert_eq!(online["presence"], "active", "{online}");
    assert_eq!(online["users"], json!([bob_id]), "{online}");

    node.call_ok("admin.users.remove", &primary, json!({"user_id": bob_id}))
        .await;

    let (code, reason) = wait_closed(&mut bob_socket).await;
    assert_eq!(code, 1008);
    assert_eq!(reason, "account_inactive");

    // The team receives `user_change`, and the subscriber receives bob's away.
    // The two events have no fixed order, so both are collected.
    let mut user_change = None;
    let mut presence_change = None;
    while user_change.is_none() || presence_change.is_none() {
        let event = watcher.next_event().await;
        if event["type"] == "user_change" && event["user"]["id"] == bob_id.as_str() {
            user_change = Some(event);
        } else if event["type"] == "presence_change" {
            presence_change = Some(event);
        }
    }
    let user_change = user_change.unwrap();
    assert_eq!(user_change["user"]["deleted"], true, "{user_change}");
    let presence_change = presence_change.unwrap();
    assert_eq!(presence_change["presence"], "away", "{presence_change}");
    assert_eq!(
        presence_change["users"],
        json!([bob_id]),
        "{presence_change}"
    );
    let presence = node
        .call_ok("users.getPresence", &primary, json!({"user": bob_id}))
        .await;
    assert_eq!(presence["presence"], "away", "{presence}");

    // The token stops working, and no new socket opens.
    let auth = node.call("auth.test", &bob, json!({})).await;
    assert_eq!(auth["error"], "invalid_auth", "{auth}");
    let connect = node.call("rtm.connect", &bob, json!({})).await;
    assert_eq!(connect["error"], "invalid_auth", "{connect}");

    // The messages stay.
    let history = node
        .call_ok(
            "conversations.history",
            &primary,
            json!({"channel": channel}),
        )
        .await;
    let kept = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["ts"] == posted["ts"]);
    assert!(kept, "{history}");

    // Reactivation brings the account back; old tokens stay revoked.
    node.call_ok(
        "admin.users.reactivate",
        &primary,
        json!({"user_id": bob_id}),
    )
    .await;
    let info = node
        .call_ok("users.info", &primary, json!({"user": bob_id}))
        .await;
    assert_eq!(info["user"]["deleted"], false, "{info}");
    let auth = node.call("auth.test", &bob, json!({})).await;
    assert_eq!(auth["error"], "invalid_auth", "{auth}");

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_reset_closes_socket_keeps_token() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let primary = node.bootstrap.admin.token.clone();
    let (carol_id, carol) = node.create_user("carol").await;
    let mut socket = node.connect(&carol).await;

    node.call_ok(
        "admin.users.session.reset",
        &primary,
        json!({"user_id": carol_id}),
    )
    .await;
    let (code, reason) = wait_closed(&mut socket).await;
    assert_eq!(code, 1008);
    assert_eq!(reason, "session_reset");
    node.call_ok("auth.test", &carol, json!({})).await;

    node.stop().await;
}

/// Runs `switchboard admin ARGS --data-dir DIR` and returns its stdout.
fn run_cli(dir: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .expect("switchboard runs");
    assert!(
        output.status.success(),
        "switchboard admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_deactivation_closes_live_session() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let team = node.bootstrap.team_id.to_string();
    let (dave_id, dave) = node.create_user("dave").await;
    let mut socket = node.connect(&dave).await;
    // With the team loaded, this call leaves Dave's token in the team cache,
    // which must drop it when the deactivation is applied.
    node.call_ok("auth.test", &dave, json!({})).await;

    // Another process writes the deactivation to the store.
    let data_dir = dir.path().to_owned();
    let args = ["deactivate", "--team", &team, "--user", &dave_id];
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&data_dir, &args)
    })
    .await
    .unwrap();

    let (code, reason) = wait_closed(&mut socket).await;
    assert_eq!(code, 1008);
    assert_eq!(reason, "account_inactive");
    let auth = node.call("auth.test", &dave, json!({})).await;
    assert_eq!(auth["error"], "invalid_auth", "{auth}");

    // The command line's action is in the audit log, with no user as actor.
    let audit = node
        .call_ok("admin.audit.list", &node.bootstrap.admin.token, json!({}))
        .await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["action"], "user_deactivated");
    assert_eq!(entries[0]["actor"]["type"], "cli");
    assert_eq!(entries[0]["entity"]["id"], dave_id.as_str());

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_change_applies_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let primary = node.bootstrap.admin.token.clone();
    let (erin_id, erin) = node.create_user("erin").await;
    let channel = owner_channel(&node, false, &[&erin_id]).await;
    let mut watcher = node.connect(&primary).await;

    let denied = node
        .call(
            "conversations.rename",
            &erin,
            json!({"channel": channel, "name": "by-erin"}),
        )
        .await;
    assert_eq!(denied["error"], "restricted_action", "{denied}");

    node.call_ok(
        "admin.users.setAdmin",
        &primary,
        json!({"user_id": erin_id}),
    )
    .await;
    // The very next request sees the new role.
    node.call_ok(
        "conversations.rename",
        &erin,
        json!({"channel": channel, "name": "by-erin"}),
    )
    .await;
    let change = watcher
        .next_matching(|e| e["type"] == "user_change" && e["user"]["id"] == erin_id.as_str())
        .await;
    assert_eq!(change["user"]["is_admin"], true, "{change}");
    assert_eq!(change["user"]["is_owner"], false, "{change}");

    // And back: the demotion applies to the next request too.
    node.call_ok(
        "admin.users.setRegular",
        &primary,
        json!({"user_id": erin_id}),
    )
    .await;
    let denied = node
        .call(
            "conversations.rename",
            &erin,
            json!({"channel": channel, "name": "by-erin-again"}),
        )
        .await;
    assert_eq!(denied["error"], "restricted_action", "{denied}");

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_ownership_transfers() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let primary = node.bootstrap.admin.token.clone();
    let primary_id = node.bootstrap.admin.user_id.to_string();
    let (owner_id, owner) = make_user(&node, Role::Owner, "").await;

    let denied = node
        .call(
            "admin.users.transferPrimaryOwnership",
            &owner,
            json!({"user_id": owner_id}),
        )
        .await;
    assert_eq!(denied["error"], "restricted_action", "{denied}");

    node.call_ok(
        "admin.users.transferPrimaryOwnership",
        &primary,
        json!({"user_id": owner_id}),
    )
    .await;
    let list = node.call_ok("users.list", &primary, json!({})).await;
    let primaries: Vec<&str> = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["is_primary_owner"] == true)
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(primaries, [owner_id.as_str()]);
    let former = node
        .call_ok("users.info", &primary, json!({"user": primary_id}))
        .await;
    assert_eq!(former["user"]["is_owner"], true, "{former}");

    // The former primary owner can now be demoted by the new one.
    node.call_ok(
        "admin.users.setRegular",
        &owner,
        json!({"user_id": primary_id}),
    )
    .await;

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_cannot_see_ungiven_public_channel() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let given = owner_channel(&node, false, &[]).await;
    let hidden = owner_channel(&node, false, &[]).await;
    let (guest_id, guest) = make_user(&node, Role::MultiChannelGuest, &given).await;

    let info = node
        .call("conversations.info", &guest, json!({"channel": hidden}))
        .await;
    assert_eq!(info["error"], "channel_not_found", "{info}");
    let join = node
        .call("conversations.join", &guest, json!({"channel": hidden}))
        .await;
    assert_eq!(join["error"], "channel_not_found", "{join}");
    let history = node
        .call("conversations.history", &guest, json!({"channel": hidden}))
        .await;
    assert_eq!(history["error"], "channel_not_found", "{history}");

    let list = node.call_ok("conversations.list", &guest, json!({})).await;
    let ids: Vec<&str> = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [given.as_str()], "guest lists only their channel");

    let user = node
        .call_ok("users.info", &guest, json!({"user": guest_id}))
        .await;
    assert_eq!(user["user"]["is_restricted"], true, "{user}");
    assert_eq!(user["user"]["is_ultra_restricted"], false, "{user}");

    // Socket frames follow the same policy.
    let mut socket = node.connect(&guest).await;
    socket
        .send(json!({"id": 1, "type": "message", "channel": hidden, "text": "hi"}))
        .await;
    let rejected = socket.next_matching(|e| e["reply_to"] == 1).await;
    assert_eq!(rejected["ok"], false, "{rejected}");
    assert_eq!(rejected["error"]["msg"], "channel_not_found", "{rejected}");
    socket
        .send(json!({"id": 2, "type": "message", "channel": given, "text": "hi"}))
        .await;
    let accepted = socket.next_matching(|e| e["reply_to"] == 2).await;
    assert_eq!(accepted["ok"], true, "{accepted}");

    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_records_each_action_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let primary = node.bootstrap.admin.token.clone();
    let primary_id = node.bootstrap.admin.user_id.to_string();
    let (frank_id, _) = node.create_user("frank").await;

    node.call_ok(
        "admin.users.setAdmin",
        &primary,
        json!({"user_id": frank_id}),
    )
    .await;
    // Setting the role a user already has changes nothing and records nothing.
    node.call_ok(
        "admin.users.setAdmin",
        &primary,
        json!({"user_id": frank_id}),
    )
    .await;
    node.call_ok(
        "admin.users.session.reset",
        &primary,
        json!({"user_id": frank_id}),
    )
    .await;
    node.call_ok("admin.users.remove", &primary, json!({"user_id": frank_id}))
        .await;
    // A rejected action records nothing either.
    let again = node
        .call("admin.users.remove", &primary, json!({"user_id": frank_id}))
        .await;
    assert_eq!(again["error"], "user_disabled", "{again}");
    node.call_ok(
        "admin.users.reactivate",
        &primary,
        json!({"user_id": frank_id}),
    )
    .await;

    let audit = node
        .call_ok("admin.audit.list", &primary, json!({"limit": 2}))
        .await;
    let mut entries: Vec<Value> = audit["entries"].as_array().unwrap().clone();
    let cursor = audit["response_metadata"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!cursor.is_empty(), "{audit}");
    let rest = node
        .call_ok("admin.audit.list", &primary, json!({"cursor": cursor}))
        .await;
    entries.extend(rest["entries"].as_array().unwrap().iter().cloned());

    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user_role_changed",
            "user_sessions_reset",
            "user_deactivated",
            "user_reactivated"
        ]
    );
    let ids: Vec<u64> = entries.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    for entry in &entries {
        assert_eq!(entry["actor"]["id"], primary_id.as_str(), "{entry}");
        assert_eq!(entry["entity"]["id"], frank_id.as_str(), "{entry}");
        assert!(entry["date_create"].as_u64().unwrap() > 0, "{entry}");
    }
    assert_eq!(entries[0]["details"]["role"], "admin");
    assert_eq!(entries[0]["details"]["previous_role"], "member");

    // The command line prints the same log.
    let team = node.bootstrap.team_id.to_string();
    let data_dir = dir.path().to_owned();
    let printed =
        tokio::task::spawn_blocking(move || run_cli(&data_dir, &["audit", "--team", &team]))
            .await
            .unwrap();
    let lines: Vec<Value> = printed
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines, entries);

    // Another team's log is separate.
    let other = TeamId::from("T0OTHER1");
    let store = node.engine.hub().store().clone();
    assert!(store
        .audit_entries(
            &other,
            switchboard_actors::ports::Page {
                after: None,
                limit: 10
            }
        )
        .await
        .unwrap()
        .is_empty());

    node.stop().await;
}

/// Returns the names `users.search` finds for a prefix.
async fn search_names(node: &TestNode, token: &str, prefix: &str) -> Vec<String> {
    let found = node
        .call_ok("users.search", token, json!({ "query": prefix }))
        .await;
    found["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_updates_team_cache() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let primary = node.bootstrap.admin.token.clone();
    let (zed_id, _) = node.create_user("zed").await;

    // The cache knows Zed once his id is looked up.
    let info = node
        .call_ok("users.info", &primary, json!({"user": zed_id}))
        .await;
    assert_eq!(info["user"]["deleted"], false);
    assert_eq!(search_names(&node, &primary, "ze").await, ["zed"]);

    node.call_ok("admin.users.remove", &primary, json!({"user_id": zed_id}))
        .await;

    // The team actor applies the audit entry within its poll interval; wait,
    // bounded, for the cached record to change.
    let mut deleted = false;
    for _ in 0..50 {
        let info = node
            .call_ok("users.info", &primary, json!({"user": zed_id}))
            .await;
        if info["user"]["deleted"] == true {
            deleted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        deleted,
        "users.info still shows the deactivated user as active"
    );
    assert!(search_names(&node, &primary, "ze").await.is_empty());
    node.stop().await;
}

/// A user that the command line creates while the node runs reaches the team
/// cache through the audit log: a connected member receives `team_join`, and
/// `users.search` finds the user with no earlier lookup of the new id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_created_user_reaches_team_cache() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let team = node.bootstrap.team_id.to_string();
    let admin = node.bootstrap.admin.token.clone();
    let mut socket = node.connect(&admin).await;
    let before = node
        .call_ok("users.search", &admin, json!({"query": "zed"}))
        .await;
    assert_eq!(before["members"], json!([]), "{before}");

    // Another process writes the user to the store.
    let data_dir = dir.path().to_owned();
    let args: Vec<String> = ["create-user", "--team", &team, "--name", "zed-cli"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let created = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&data_dir, &args)
    })
    .await
    .unwrap();
    let created: Value = serde_json::from_str(&created).unwrap();
    let user_id = created["user_id"].as_str().unwrap().to_owned();

    let joined = socket
        .next_matching(|event| event["type"] == "team_join")
        .await;
    assert_eq!(joined["user"]["id"], user_id.as_str(), "{joined}");
    let found = node
        .call_ok("users.search", &admin, json!({"query": "zed"}))
        .await;
    let ids: Vec<&str> = found["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![user_id.as_str()], "{found}");

    let audit = node.call_ok("admin.audit.list", &admin, json!({})).await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["action"], "user_created");
    assert_eq!(entries[0]["actor"]["type"], "cli");
    node.stop().await;
}
