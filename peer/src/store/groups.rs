//! `_groups` and `_group_members` (peer.md §12): the groups we host, and the member lists of
//! hosted groups (current) and joined groups (the last list the host sent).

use super::{Store, StoreError};

/// A hosted group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    /// Host-generated id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Our PeerId.
    pub owner: String,
    /// `chat`, `template`, … (peer.md §8.1).
    pub group_type: String,
    /// Application context.
    pub group_context: String,
    /// 0 = no limit.
    pub max_members: u32,
    /// The host is a member (`owner`).
    pub host_joined: bool,
    /// Closed when the host stops.
    pub volatile: bool,
    /// Role of joiners.
    pub default_role: String,
    /// JSON role → permissions.
    pub roles: String,
    /// `open`, `voucher`, `invite`.
    pub join_policy: String,
    /// Hub URL whose vouchers admit (policy `voucher`).
    pub community: String,
    /// Host-held state (JSON).
    pub state: Option<String>,
    /// Unix ms.
    pub created_at: i64,
}

/// A member row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMemberRow {
    /// The member.
    pub peer_id: String,
    /// Its role.
    pub role: String,
    /// Its display name.
    pub name: Option<String>,
    /// Unix ms.
    pub joined_at: i64,
}

type Row = (
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
);

macro_rules! columns {
    () => {
        "id, name, owner, group_type, group_context, max_members, host_joined, volatile, \
         default_role, roles, join_policy, community, state, created_at"
    };
}

fn group(row: Row) -> GroupRow {
    let (id, name, owner, group_type, group_context, max, joined, volatile, default_role) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8,
    );
    GroupRow {
        id,
        name,
        owner,
        group_type,
        group_context,
        max_members: u32::try_from(max).unwrap_or(0),
        host_joined: joined != 0,
        volatile: volatile != 0,
        default_role,
        roles: row.9,
        join_policy: row.10,
        community: row.11,
        state: row.12,
        created_at: row.13,
    }
}

impl Store {
    /// Stores a new hosted group.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for a used id.
    pub async fn insert_group(&self, g: &GroupRow) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "insert into _groups (",
            columns!(),
            ") values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.owner)
        .bind(&g.group_type)
        .bind(&g.group_context)
        .bind(i64::from(g.max_members))
        .bind(i64::from(g.host_joined))
        .bind(i64::from(g.volatile))
        .bind(&g.default_role)
        .bind(&g.roles)
        .bind(&g.join_policy)
        .bind(&g.community)
        .bind(g.state.as_deref())
        .bind(g.created_at)
        .execute(self.db().pool())
        .await?;
        Ok(())
    }

    /// Every hosted group, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_groups(&self) -> Result<Vec<GroupRow>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(concat!(
            "select ",
            columns!(),
            " from _groups order by created_at, id"
        ))
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows.into_iter().map(group).collect())
    }

    /// Deletes a hosted group with its members and access rows, in one transaction.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_group(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.db().begin_write().await?;
        for sql in [
            "delete from _groups where id = $1",
            "delete from _group_members where group_id = $1",
            "delete from _group_access where group_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets the name, type and member limit of a hosted group.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn update_group_meta(
        &self,
        id: &str,
        name: &str,
        max_members: u32,
    ) -> Result<(), StoreError> {
        sqlx::query("update _groups set name = $2, max_members = $3 where id = $1")
            .bind(id)
            .bind(name)
            .bind(i64::from(max_members))
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Sets the host-held state (JSON) and whether the host is a member.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn update_group_state(
        &self,
        id: &str,
        state: Option<&str>,
        host_joined: bool,
    ) -> Result<(), StoreError> {
        sqlx::query("update _groups set state = $2, host_joined = $3 where id = $1")
            .bind(id)
            .bind(state)
            .bind(i64::from(host_joined))
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Adds or updates one member of `group_id`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn upsert_group_member(
        &self,
        group_id: &str,
        m: &GroupMemberRow,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into _group_members (group_id, peer_id, role, name, joined_at) \
             values ($1, $2, $3, $4, $5) on conflict (group_id, peer_id) do update set \
             role = excluded.role, name = excluded.name, joined_at = excluded.joined_at",
        )
        .bind(group_id)
        .bind(&m.peer_id)
        .bind(&m.role)
        .bind(m.name.as_deref())
        .bind(m.joined_at)
        .execute(self.db().pool())
        .await?;
        Ok(())
    }

    /// Removes one member of `group_id`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn delete_group_member(
        &self,
        group_id: &str,
        peer_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("delete from _group_members where group_id = $1 and peer_id = $2")
            .bind(group_id)
            .bind(peer_id)
            .execute(self.db().pool())
            .await?;
        Ok(())
    }

    /// Replaces the whole member list of `group_id` (a joined group's last list), in one
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn replace_group_members(
        &self,
        group_id: &str,
        members: &[GroupMemberRow],
    ) -> Result<(), StoreError> {
        let mut tx = self.db().begin_write().await?;
        sqlx::query("delete from _group_members where group_id = $1")
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        for m in members {
            sqlx::query(
                "insert into _group_members (group_id, peer_id, role, name, joined_at) \
                 values ($1, $2, $3, $4, $5) on conflict (group_id, peer_id) do nothing",
            )
            .bind(group_id)
            .bind(&m.peer_id)
            .bind(&m.role)
            .bind(m.name.as_deref())
            .bind(m.joined_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stored members of `group_id`, by join time.
    ///
    /// # Errors
    /// [`StoreError`].
    pub async fn list_group_members(
        &self,
        group_id: &str,
    ) -> Result<Vec<GroupMemberRow>, StoreError> {
        let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
            "select peer_id, role, name, joined_at from _group_members where group_id = $1 \
             order by joined_at, peer_id",
        )
        .bind(group_id)
        .fetch_all(self.db().pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(peer_id, role, name, joined_at)| GroupMemberRow {
                peer_id,
                role,
                name,
                joined_at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> GroupRow {
        GroupRow {
            id: id.to_owned(),
            name: "n".into(),
            owner: "me".into(),
            group_type: "chat".into(),
            group_context: String::new(),
            max_members: 0,
            host_joined: true,
            volatile: false,
            default_role: "viewer".into(),
            roles: "{}".into(),
            join_policy: "open".into(),
            community: String::new(),
            state: None,
            created_at: 1,
        }
    }

    fn member(peer: &str, at: i64) -> GroupMemberRow {
        GroupMemberRow {
            peer_id: peer.into(),
            role: "viewer".into(),
            name: None,
            joined_at: at,
        }
    }

    #[tokio::test]
    async fn groups_members_and_access_are_deleted_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        store.insert_group(&row("g")).await.unwrap();
        assert!(matches!(
            store.insert_group(&row("g")).await,
            Err(StoreError::Conflict)
        ));
        store
            .upsert_group_member("g", &member("b", 2))
            .await
            .unwrap();
        store
            .upsert_group_member("g", &member("a", 1))
            .await
            .unwrap();
        store
            .insert_group_access("g", "x", "banned", 1, None)
            .await
            .unwrap();
        store.update_group_meta("g", "new", 5).await.unwrap();
        store
            .update_group_state("g", Some("{}"), false)
            .await
            .unwrap();
        let listed = store.list_groups().await.unwrap();
        assert_eq!((listed[0].name.as_str(), listed[0].max_members), ("new", 5));
        assert!(!listed[0].host_joined);
        let members = store.list_group_members("g").await.unwrap();
        assert_eq!(
            members
                .iter()
                .map(|m| m.peer_id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );

        store.delete_group("g").await.unwrap();
        assert!(store.list_groups().await.unwrap().is_empty());
        assert!(store.list_group_members("g").await.unwrap().is_empty());
        assert_eq!(store.find_group_access("g", "x", 2).await.unwrap(), None);
        store.close().await;
    }

    #[tokio::test]
    async fn replacing_a_member_list_keeps_only_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        store
            .replace_group_members("r", &[member("a", 1), member("b", 2)])
            .await
            .unwrap();
        store
            .replace_group_members("r", &[member("c", 3)])
            .await
            .unwrap();
        let members = store.list_group_members("r").await.unwrap();
        assert_eq!(members, vec![member("c", 3)]);
        store.delete_group_member("r", "c").await.unwrap();
        assert!(store.list_group_members("r").await.unwrap().is_empty());
        store.close().await;
    }
}
