//! Creating a hosted group (peer.md §8.1, §8.3): the fields checked, the caps of 50 persistent
//! and 20 volatile groups, the row and our own `admin` subscription stored before the group
//! exists in memory.

use serde::Deserialize;
use serde_json::{Value, json};

use super::super::wire::{GroupId, MAX_FIELD, MAX_MEMBERS};
use super::super::{GroupError, MAX_PERSISTENT, MAX_VOLATILE, lock};
use crate::hub_url::HubUrl;
use crate::node::Node;
use crate::store::{GroupRow, SubscriptionRow};

/// `POST /api/groups`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// Display name.
    pub name: String,
    /// `chat`, `template`, … (`^[a-z][a-z0-9_-]{0,31}$`).
    pub group_type: String,
    /// Application context.
    #[serde(default)]
    pub group_context: Option<String>,
    /// 0 = no limit (hard cap 256).
    #[serde(default)]
    pub max_members: Option<u32>,
    /// Closed when we stop.
    #[serde(default)]
    pub volatile: Option<bool>,
    /// `open`, `voucher`, `invite`.
    #[serde(default)]
    pub join_policy: Option<String>,
    /// Hub URL whose vouchers admit (policy `voucher`).
    #[serde(default)]
    pub community: Option<String>,
    /// Role of joiners (default `viewer`).
    #[serde(default)]
    pub default_role: Option<String>,
    /// Role → permissions.
    #[serde(default)]
    pub roles: Option<Value>,
    /// Whether we are a member (`owner`) of it.
    #[serde(default)]
    pub host_joined: Option<bool>,
}

fn valid_type(t: &str) -> bool {
    let mut bytes = t.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && t.len() <= 32
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub(super) fn valid_name(name: &str) -> bool {
    !name.trim().is_empty() && name.len() <= 256 && !name.chars().any(char::is_control)
}

pub(super) fn valid_role(role: &str) -> bool {
    (1..=64).contains(&role.len()) && !role.chars().any(char::is_control)
}

/// Creates a group we host; returns its id.
///
/// # Errors
/// [`GroupError::Invalid`], [`GroupError::Conflict`] `too_many_groups` (caps 50 + 20 volatile).
pub async fn create(node: &Node, new: NewGroup) -> Result<GroupId, GroupError> {
    if !valid_name(&new.name) {
        return Err(GroupError::invalid(
            "name",
            "1–256 bytes, no control characters",
        ));
    }
    if !valid_type(&new.group_type) {
        return Err(GroupError::invalid("group_type", "^[a-z][a-z0-9_-]{0,31}$"));
    }
    let policy = new.join_policy.unwrap_or_else(|| "open".to_owned());
    if !["open", "voucher", "invite"].contains(&policy.as_str()) {
        return Err(GroupError::invalid(
            "join_policy",
            "open, voucher or invite",
        ));
    }
    let community = match (policy.as_str(), new.community.as_deref()) {
        ("voucher", Some(url)) => {
            Some(HubUrl::parse(url).map_err(|e| GroupError::invalid("community", e.to_string()))?)
        }
        ("voucher", None) => return Err(GroupError::invalid("community", "required by voucher")),
        _ => None,
    };
    let default_role = new.default_role.unwrap_or_else(|| "viewer".to_owned());
    if !valid_role(&default_role) || default_role == "owner" {
        return Err(GroupError::invalid("default_role", "1–64 bytes, not owner"));
    }
    let context = new.group_context.unwrap_or_default();
    if context.len() > MAX_FIELD {
        return Err(GroupError::invalid("group_context", "at most 4096 bytes"));
    }
    let roles = new.roles.unwrap_or_else(|| json!({}));
    if !roles.is_object() || roles.to_string().len() > MAX_FIELD {
        return Err(GroupError::invalid(
            "roles",
            "an object of at most 4096 bytes",
        ));
    }
    let max_members = new.max_members.unwrap_or(0);
    if max_members as usize > MAX_MEMBERS {
        return Err(GroupError::invalid("max_members", "at most 256"));
    }
    let volatile = new.volatile.unwrap_or(false);
    let _guard = node.groups.host_write.lock().await;
    let (cap, same) = {
        let groups = lock(&node.groups.host.groups);
        let cap = if volatile {
            MAX_VOLATILE
        } else {
            MAX_PERSISTENT
        };
        (
            cap,
            groups
                .values()
                .filter(|h| h.row.volatile == volatile)
                .count(),
        )
    };
    if same >= cap {
        return Err(GroupError::Conflict {
            code: "too_many_groups",
            message: format!("at most {cap} such groups are hosted"),
        });
    }
    let id = GroupId::generate();
    let now = node.clock.now_ms();
    let row = GroupRow {
        id: id.to_string(),
        name: new.name,
        owner: node.peer_id.to_base58(),
        group_type: new.group_type,
        group_context: context,
        max_members,
        host_joined: new.host_joined.unwrap_or(false),
        volatile,
        default_role,
        roles: roles.to_string(),
        join_policy: policy,
        community: community
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        state: None,
        created_at: now,
    };
    node.store.insert_group(&row).await?;
    node.store
        .upsert_group_subscription(&SubscriptionRow {
            host_peer_id: row.owner.clone(),
            group_id: row.id.clone(),
            group_name: row.name.clone(),
            group_type: row.group_type.clone(),
            role: "admin".to_owned(),
            subscribed_at: now,
            max_members,
            volatile,
            host_name: node.config.profile.label.clone(),
            community: row.community.clone(),
        })
        .await?;
    tracing::info!(group = %id, name = %row.name, volatile, policy = %row.join_policy, "group: created");
    node.groups.host.insert(id.clone(), row);
    if let Some(community) = &community {
        // Revocations of the community are read from now on (peer.md §3.7).
        node.vouchers.watch(community);
    }
    Ok(id)
}
