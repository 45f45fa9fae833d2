//! Chat rooms (peer.md §8.8): groups of type `chat` whose lines travel on MQ topics
//! `chat.room:<gid>:msg|history|members`. The host keeps a ring of the last 100 lines, dedups by
//! line id (LRU 1000 per room), forwards each line to every member but its author, sends the
//! history to joiners and the member list on every change. Our members send only to the host.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::wire::{GroupId, MemberInfo};
use super::{GroupError, emit, lock};
use crate::mq::{self, Msg};
use crate::node::Node;

/// Topic prefix of room lines.
pub const TOPIC_PREFIX: &str = "chat.room:";
/// Lines kept per room.
pub const HISTORY: usize = 100;
/// Line ids remembered per room.
const DEDUP: usize = 1000;
/// Longest line text in bytes.
pub const MAX_TEXT: usize = 4096;
/// Rooms whose lines are kept.
const MAX_ROOMS: usize = 256;

/// One room line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// `<ms>-<first 8 chars of the author's PeerId>`.
    pub id: String,
    /// The author.
    pub from: String,
    /// Its display name.
    #[serde(default)]
    pub from_name: String,
    /// 1–4096 bytes.
    pub text: String,
    /// Unix ms.
    #[serde(default)]
    pub timestamp: i64,
}

#[derive(Debug, Default)]
struct Room {
    lines: VecDeque<Line>,
    seen: VecDeque<String>,
    seen_set: HashSet<String>,
}

impl Room {
    /// Appends a line not seen before; whether it was new.
    fn add(&mut self, line: Line) -> bool {
        if !self.seen_set.insert(line.id.clone()) {
            return false;
        }
        self.seen.push_back(line.id.clone());
        if self.seen.len() > DEDUP
            && let Some(old) = self.seen.pop_front()
        {
            self.seen_set.remove(&old);
        }
        self.lines.push_back(line);
        if self.lines.len() > HISTORY {
            self.lines.pop_front();
        }
        true
    }
}

/// The room lines of a node (hosted and joined rooms).
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    rooms: Mutex<HashMap<GroupId, Room>>,
}

impl Rooms {
    fn add(&self, group: &GroupId, line: Line) -> bool {
        let mut rooms = lock(&self.rooms);
        if rooms.len() >= MAX_ROOMS && !rooms.contains_key(group) {
            let Some(victim) = rooms.keys().next().cloned() else {
                return false;
            };
            rooms.remove(&victim);
        }
        rooms.entry(group.clone()).or_default().add(line)
    }

    /// The kept lines of `group`, oldest first.
    pub(crate) fn lines(&self, group: &GroupId) -> Vec<Line> {
        lock(&self.rooms)
            .get(group)
            .map(|r| r.lines.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn forget(&self, group: &GroupId) {
        lock(&self.rooms).remove(group);
    }
}

fn topic(group: &GroupId, kind: &str) -> String {
    format!("{TOPIC_PREFIX}{group}:{kind}")
}

fn parse_line(payload: &Value) -> Option<Line> {
    if payload.get("action").and_then(Value::as_str) != Some("msg") {
        return None;
    }
    let line: Line = Line::deserialize(payload.get("message")?).ok()?;
    let fits = !line.text.is_empty()
        && line.text.len() <= MAX_TEXT
        && (1..=64).contains(&line.id.len())
        && line.from_name.len() <= 256;
    fits.then_some(line)
}

async fn send(node: &Node, peer: PeerId, group: &GroupId, kind: &str, payload: Value) -> bool {
    let sent = tokio::time::timeout(
        super::outbound::SEND_TIMEOUT,
        mq::send(node, peer, &topic(group, kind), payload),
    )
    .await;
    matches!(sent, Ok(Ok(_)))
}

/// The members of a room we host (not us), or `None` when we do not host it as a room.
fn hosted_members(node: &Node, group: &GroupId) -> Option<Vec<PeerId>> {
    let hosted = node.groups.host.get(group)?;
    (hosted.row.group_type == "chat").then(|| hosted.members.iter().map(|m| m.peer).collect())
}

/// An inbound `chat.room:<gid>:<kind>` message.
pub(crate) async fn receive(node: &Node, from: PeerId, msg: &Msg) {
    let Some((gid, kind)) = msg
        .topic
        .strip_prefix(TOPIC_PREFIX)
        .and_then(|r| r.split_once(':'))
    else {
        return;
    };
    let Some(group) = GroupId::parse(gid) else {
        return;
    };
    if let Some(members) = hosted_members(node, &group) {
        if kind != "msg" || !members.contains(&from) {
            tracing::debug!(%from, %group, kind, "room: not a line of a member, dropped");
            return;
        }
        match parse_line(&msg.payload) {
            Some(line) if line.from == from.to_base58() => {
                forward(node, &group, line, Some(from)).await
            }
            _ => tracing::debug!(%from, %group, "room: bad or forged line dropped"),
        }
        return;
    }
    let from_host = super::member::is_host(node, from, &group);
    match kind {
        "msg" => {
            let Some(line) = parse_line(&msg.payload) else {
                return;
            };
            let direct = line.from == from.to_base58() && is_member(node, &group, &from);
            if (from_host || direct) && node.groups.rooms.add(&group, line.clone()) {
                emit(
                    node,
                    "msg",
                    &group,
                    Some(from),
                    Some(line.from.clone()),
                    Some(json!(line)),
                );
            }
        }
        "history" if from_host => {
            let lines: Vec<Line> = msg
                .payload
                .get("messages")
                .and_then(|m| Vec::<Value>::deserialize(m).ok())
                .unwrap_or_default()
                .into_iter()
                .take(HISTORY)
                .filter_map(|m| parse_line(&json!({"action": "msg", "message": m})))
                .collect();
            for line in lines {
                node.groups.rooms.add(&group, line);
            }
        }
        "members" if from_host => {
            emit(
                node,
                "members",
                &group,
                Some(from),
                None,
                Some(msg.payload.clone()),
            );
        }
        _ => tracing::debug!(%from, %group, kind, "room: message dropped"),
    }
}

fn is_member(node: &Node, group: &GroupId, peer: &PeerId) -> bool {
    let id = peer.to_base58();
    lock(&node.groups.member.joined)
        .iter()
        .any(|((_, g), j)| g == group && j.members.iter().any(|m| m.peer_id == id))
}

/// Keeps a line of a room we host and forwards it to every member but its author.
async fn forward(node: &Node, group: &GroupId, line: Line, author: Option<PeerId>) {
    if !node.groups.rooms.add(group, line.clone()) {
        return;
    }
    emit(
        node,
        "msg",
        group,
        author,
        Some(line.from.clone()),
        Some(json!(line)),
    );
    let members = hosted_members(node, group).unwrap_or_default();
    let payload = json!({ "action": "msg", "message": line });
    futures::future::join_all(
        members
            .into_iter()
            .filter(|m| Some(*m) != author)
            .map(|m| send(node, m, group, "msg", payload.clone())),
    )
    .await;
}

/// Sends `text` to a room: as its host to every member, as a member to the host only.
///
/// # Errors
/// [`GroupError::Invalid`] for empty or long text, [`GroupError::UnknownGroup`],
/// [`GroupError::Send`].
pub async fn say(node: &Node, group: &GroupId, text: &str) -> Result<Line, GroupError> {
    if text.is_empty() || text.len() > MAX_TEXT {
        return Err(GroupError::invalid("text", "1–4096 bytes"));
    }
    let now = node.clock.now_ms();
    let me = node.peer_id.to_base58();
    let line = Line {
        id: format!("{now}-{}", &me[..8]),
        from: me,
        from_name: node.config.profile.label.clone(),
        text: text.to_owned(),
        timestamp: now,
    };
    if hosted_members(node, group).is_some() {
        forward(node, group, line.clone(), None).await;
        return Ok(line);
    }
    let host = super::member::host_of(node, group).ok_or(GroupError::UnknownGroup)?;
    let payload = json!({ "action": "msg", "message": line });
    let sent = tokio::time::timeout(
        super::outbound::SEND_TIMEOUT,
        mq::send(node, host, &topic(group, "msg"), payload),
    )
    .await
    .unwrap_or(Err(mq::SendError::Timeout));
    sent?;
    node.groups.rooms.add(group, line.clone());
    Ok(line)
}

/// After a `welcome` to `joiner`: the room's history (host side).
pub(crate) async fn send_history(node: &Node, group: &GroupId, joiner: PeerId) {
    if hosted_members(node, group).is_none() {
        return;
    }
    let lines = node.groups.rooms.lines(group);
    send(
        node,
        joiner,
        group,
        "history",
        json!({ "action": "history", "messages": lines }),
    )
    .await;
}

/// After a member change: `members` to every member (host side).
pub(crate) async fn send_members(node: &Node, group: &GroupId, infos: &[MemberInfo]) {
    let Some(members) = hosted_members(node, group) else {
        return;
    };
    let list: Vec<Value> = infos
        .iter()
        .map(|m| json!({ "peer_id": m.peer_id, "name": m.name.clone().unwrap_or_default() }))
        .collect();
    let payload = json!({ "action": "members", "members": list });
    futures::future::join_all(
        members
            .into_iter()
            .map(|m| send(node, m, group, "members", payload.clone())),
    )
    .await;
}

/// A room as `GET /api/chat/rooms/state` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    /// The group id.
    pub group_id: String,
    /// Name.
    pub name: String,
    /// The host.
    pub host_peer_id: String,
    /// Whether we host it.
    pub hosting: bool,
    /// The members.
    pub members: Vec<MemberInfo>,
    /// The last 100 lines, oldest first.
    pub messages: Vec<Line>,
}

/// Every room we host or joined, with its last lines.
pub fn state(node: &Node) -> Vec<RoomView> {
    let me = node.peer_id.to_base58();
    let mut views: Vec<RoomView> = super::manage::list(node)
        .into_iter()
        .filter(|g| g.group_type == "chat")
        .map(|g| {
            let id = GroupId::parse(&g.id);
            RoomView {
                messages: id
                    .map(|id| node.groups.rooms.lines(&id))
                    .unwrap_or_default(),
                group_id: g.id,
                name: g.name,
                host_peer_id: me.clone(),
                hosting: true,
                members: g.members,
            }
        })
        .collect();
    views.extend(
        super::member::subscriptions(node)
            .into_iter()
            .filter(|s| s.row.group_type == "chat" && s.row.host_peer_id != me)
            .map(|s| RoomView {
                messages: GroupId::parse(&s.row.group_id)
                    .map(|id| node.groups.rooms.lines(&id))
                    .unwrap_or_default(),
                group_id: s.row.group_id,
                name: s.row.group_name,
                host_peer_id: s.row.host_peer_id,
                hosting: false,
                members: s.members,
            }),
    );
    views
}
