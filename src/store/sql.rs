//! The SQL both engines share. SQLite and PostgreSQL accept the same statements here
//! (`$n` placeholders, row-value comparisons, `RETURNING`, `LIMIT` in subqueries), so the
//! queries are written once and expanded per engine by [`sql_store!`]; what differs
//! (connecting, pools, error classification, migrations) stays in `sqlite.rs` and
//! `postgres.rs`.
//!
//! The invoking module provides: a struct `$store` with fields `reader` and `writer` (pools;
//! the same pool twice is fine), `metrics: StoreMetrics`, a `fn map_err(sqlx::Error) ->
//! StoreError`, a `const DELETE_BATCH: i64`, `async fn confirm_invalidation(store)` and `async fn lock_throttle_keys(tx, account, ip)`
//! that serialises sign-in attempts on the same account or address across connections, and
//! `async fn user_row_for_sign_in(tx, user_id)` that reads a user's password hash and
//! suspension, holding the row against concurrent changes until the transaction ends.

macro_rules! sql_store {
    ($store:ident, $db:ty, $row:ty) => {
        const USER_COLS: &str = "u.id, u.name, u.email, u.role, u.suspended, u.created_at";
        const SESSION_COLS: &str = "s.id, s.user_id, s.authenticated_at, s.last_seen_at";

        fn user_at(row: &$row, base: usize) -> StoreResult<User> {
            let role: String = row.try_get(base + 3).map_err(map_err)?;
            Ok(User {
                id: row.try_get(base).map_err(map_err)?,
                name: row.try_get(base + 1).map_err(map_err)?,
                email: row.try_get(base + 2).map_err(map_err)?,
                role: Role::parse(&role).ok_or_else(|| StoreError::Other(format!("unknown role {role:?} in database")))?,
                suspended: row.try_get(base + 4).map_err(map_err)?,
                created_at: row.try_get(base + 5).map_err(map_err)?,
            })
        }

        fn session_at(row: &$row, base: usize) -> StoreResult<Session> {
            Ok(Session {
                id: row.try_get(base).map_err(map_err)?,
                user_id: row.try_get(base + 1).map_err(map_err)?,
                authenticated_at: row.try_get(base + 2).map_err(map_err)?,
                last_seen_at: row.try_get(base + 3).map_err(map_err)?,
            })
        }

        fn settings_at(row: &$row, base: usize) -> StoreResult<SecuritySettings> {
            Ok(SecuritySettings {
                agent_session_timeout: row.try_get(base).map_err(map_err)?,
                end_user_session_timeout: row.try_get(base + 1).map_err(map_err)?,
                maximum_session_duration: row.try_get(base + 2).map_err(map_err)?,
                maximum_session_duration_enabled: row.try_get(base + 3).map_err(map_err)?,
            })
        }

        fn api_token_at(row: &$row, base: usize) -> StoreResult<ApiToken> {
            Ok(ApiToken {
                id: row.try_get(base).map_err(map_err)?,
                user_id: row.try_get(base + 1).map_err(map_err)?,
                description: row.try_get(base + 2).map_err(map_err)?,
                created_at: row.try_get(base + 3).map_err(map_err)?,
            })
        }

        fn oauth_token_at(row: &$row, base: usize) -> StoreResult<OAuthToken> {
            let scopes: String = row.try_get(base + 2).map_err(map_err)?;
            Ok(OAuthToken {
                id: row.try_get(base).map_err(map_err)?,
                user_id: row.try_get(base + 1).map_err(map_err)?,
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                created_at: row.try_get(base + 3).map_err(map_err)?,
                expires_at: row.try_get(base + 4).map_err(map_err)?,
            })
        }

        /// Appends the "session is alive" condition (SPEC §6) for rows `s` joined to users `u`.
        fn push_alive(q: &mut QueryBuilder<$db>, c: Cutoffs) {
            q.push("(CASE WHEN u.role = 'end-user' THEN s.last_seen_at > ")
                .push_bind(c.end_user_idle)
                .push(" ELSE (s.last_seen_at > ")
                .push_bind(c.team_idle)
                .push(" AND s.authenticated_at > ")
                .push_bind(c.team_max_duration)
                .push(") END)");
        }

        fn push_scope(q: &mut QueryBuilder<$db>, scope: Scope) {
            if let Scope::User(id) = scope {
                q.push(" AND s.user_id = ").push_bind(id);
            }
        }

        /// Appends the position condition, order and limit of a keyset page; returns whether
        /// the rows come back in reverse sort order (a `before` page), to be flipped.
        fn push_keyset(q: &mut QueryBuilder<$db>, page: Keyset) -> bool {
            let col = page.sort.key.column();
            // "Follows in sort order" is ">" for ascending sorts and "<" for descending ones.
            let (position, follows) = match (page.after, page.before) {
                (Some(p), _) => (Some(p), !page.sort.descending),
                (None, Some(p)) => (Some(p), page.sort.descending),
                (None, None) => (None, true),
            };
            if let Some(p) = position {
                let op = if follows { ">" } else { "<" };
                if page.sort.key == SortKey::Id {
                    q.push(format_args!(" AND s.id {op} ")).push_bind(p.id);
                } else {
                    q.push(format_args!(" AND ({col}, s.id) {op} (")).push_bind(p.key).push(", ").push_bind(p.id).push(")");
                }
            }
            let backwards = page.after.is_none() && page.before.is_some();
            push_order(q, page.sort, backwards);
            q.push(" LIMIT ").push_bind(i64::from(page.limit));
            backwards
        }

        /// `text` as a LIKE pattern matching any string that contains it (`!` escapes).
        fn contains_pattern(text: &str) -> String {
            let mut p = String::with_capacity(text.len() + 2);
            p.push('%');
            for c in text.chars() {
                if matches!(c, '%' | '_' | '!') {
                    p.push('!');
                }
                p.push(c);
            }
            p.push('%');
            p
        }

        fn push_order(q: &mut QueryBuilder<$db>, sort: Sort, reverse: bool) {
            let dir = if sort.descending != reverse { "DESC" } else { "ASC" };
            let col = sort.key.column();
            if sort.key == SortKey::Id {
                q.push(format_args!(" ORDER BY s.id {dir}"));
            } else {
                q.push(format_args!(" ORDER BY {col} {dir}, s.id {dir}"));
            }
        }


        impl $store {
            async fn users_sessions_delete(&self, users: &[UserId]) -> StoreResult<u64> {
                let mut total = 0u64;
                for user in users {
                    loop {
                        self.metrics.write();
                        let n = sqlx::query(
                            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE user_id = $1 LIMIT $2)",
                        )
                        .bind(user)
                        .bind(DELETE_BATCH)
                        .execute(&self.writer)
                        .await
                        .map_err(map_err)?
                        .rows_affected();
                        total += n;
                        if n < DELETE_BATCH as u64 {
                            break;
                        }
                        // Let other writers (sign-ins, activity) in between batches.
                        tokio::task::yield_now().await;
                    }
                }
                Ok(total)
            }
        }

        #[async_trait::async_trait]
        impl Store for $store {
            fn metrics(&self) -> &StoreMetrics {
                &self.metrics
            }

            async fn close(&self) {
                self.reader.close().await;
                self.writer.close().await;
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.reader).await.map_err(map_err).map(|_| ())
            }

            async fn confirm_invalidation(&self) {
                confirm_invalidation(self).await
            }

            async fn create_user(&self, user: NewUser, now: Timestamp) -> StoreResult<User> {
                self.metrics.write();
                let row = sqlx::query(
                    "INSERT INTO users (name, email, role, suspended, password_hash, created_at)
                     VALUES ($1, $2, $3, FALSE, $4, $5) RETURNING id",
                )
                .bind(&user.name)
                .bind(&user.email)
                .bind(user.role.as_str())
                .bind(&user.password_hash)
                .bind(now)
                .fetch_one(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(User {
                    id: row.try_get(0).map_err(map_err)?,
                    name: user.name,
                    email: user.email,
                    role: user.role,
                    suspended: false,
                    created_at: now,
                })
            }

            async fn bulk_create_users(&self, users: Vec<NewUser>, now: Timestamp) -> StoreResult<Vec<User>> {
                self.metrics.write();
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                let mut ids = std::collections::HashMap::with_capacity(users.len());
                for chunk in users.chunks(500) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO users (name, email, role, suspended, password_hash, created_at) ",
                    );
                    q.push_values(chunk, |mut row, u| {
                        row.push_bind(&u.name)
                            .push_bind(&u.email)
                            .push_bind(u.role.as_str())
                            .push_bind(false)
                            .push_bind(&u.password_hash)
                            .push_bind(now);
                    });
                    q.push(" RETURNING id, email");
                    for r in q.build().fetch_all(&mut *tx).await.map_err(map_err)? {
                        let id: i64 = r.try_get(0).map_err(map_err)?;
                        let email: String = r.try_get(1).map_err(map_err)?;
                        ids.insert(email, id);
                    }
                }
                tx.commit().await.map_err(map_err)?;
                users
                    .into_iter()
                    .map(|u| {
                        let id = *ids.get(&u.email).ok_or_else(|| StoreError::Other("bulk insert lost a user".into()))?;
                        Ok(User { id, name: u.name, email: u.email, role: u.role, suspended: false, created_at: now })
                    })
                    .collect()
            }

            async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
                self.metrics.read();
                let row = sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1")))
                    .bind(id)
                    .fetch_optional(&self.reader)
                    .await
                    .map_err(map_err)?;
                row.map(|r| user_at(&r, 0)).transpose()
            }

            async fn user_by_email(&self, email: &str) -> StoreResult<Option<(User, Option<String>)>> {
                self.metrics.read();
                let row =
                    sqlx::query(AssertSqlSafe(format!("SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.email = $1")))
                        .bind(email)
                        .fetch_optional(&self.reader)
                        .await
                        .map_err(map_err)?;
                match row {
                    Some(r) => Ok(Some((user_at(&r, 0)?, r.try_get(6).map_err(map_err)?))),
                    None => Ok(None),
                }
            }

            async fn count_active_admins(&self) -> StoreResult<i64> {
                self.metrics.read();
                sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND suspended = FALSE")
                    .fetch_one(&self.reader)
                    .await
                    .map_err(map_err)
            }

            async fn count_users(&self) -> StoreResult<i64> {
                self.metrics.read();
                sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&self.reader).await.map_err(map_err)
            }

            async fn update_user(&self, id: UserId, patch: UserPatch) -> StoreResult<Option<User>> {
                self.metrics.write();
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                let row = sqlx::query(AssertSqlSafe(format!(
                    "UPDATE users SET name = COALESCE($2, name), role = COALESCE($3, role),
                            suspended = COALESCE($4, suspended)
                     WHERE id = $1 RETURNING {}",
                    USER_COLS.replace("u.", "")
                )))
                .bind(id)
                .bind(&patch.name)
                .bind(patch.role.map(Role::as_str))
                .bind(patch.suspended)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let user = user_at(&row, 0)?;
                if user.suspended {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await.map_err(map_err)?;
                }
                tx.commit().await.map_err(map_err)?;
                Ok(Some(user))
            }

            async fn set_password(&self, id: UserId, hash: &str, keep: Option<SessionId>) -> StoreResult<bool> {
                self.metrics.write();
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                    .bind(id)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                    .bind(id)
                    .bind(keep.unwrap_or(-1))
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(changed > 0)
            }

            async fn delete_user(&self, id: UserId) -> StoreResult<Option<User>> {
                // Sessions first, in batches, so the final delete is short.
                self.users_sessions_delete(&[id]).await?;
                self.metrics.write();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM users WHERE id = $1 RETURNING {}",
                    USER_COLS.replace("u.", "")
                )))
                .bind(id)
                .fetch_optional(&self.writer)
                .await
                .map_err(map_err)?;
                row.map(|r| user_at(&r, 0)).transpose()
            }

            async fn create_session(&self, new: NewSession, now: Timestamp) -> StoreResult<Session> {
                self.metrics.write();
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                // A sign-in is only as good as the password it checked: if the password
                // changed, or the user was suspended, since then, no session is created.
                if let Some(checked) = &new.checked_password_hash {
                    let current = user_row_for_sign_in(&mut tx, new.user_id).await?;
                    match current {
                        Some((Some(hash), false)) if &hash == checked => {}
                        _ => {
                            tx.rollback().await.map_err(map_err)?;
                            return Err(StoreError::Conflict("password"));
                        }
                    }
                }
                let row = sqlx::query(
                    "INSERT INTO sessions (user_id, token_hash, csrf_secret, authenticated_at, last_seen_at, ip, user_agent, created_via)
                     VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING id",
                )
                .bind(new.user_id)
                .bind(new.token.0.as_slice())
                .bind(new.csrf_secret.as_slice())
                .bind(now)
                .bind(&new.ip)
                .bind(&new.user_agent)
                .bind(new.created_via)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                Ok(Session {
                    id: row.try_get(0).map_err(map_err)?,
                    user_id: new.user_id,
                    authenticated_at: now,
                    last_seen_at: now,
                })
            }

            async fn bulk_insert_sessions(&self, sessions: Vec<SeedSession>) -> StoreResult<u64> {
                self.metrics.write();
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                let mut total = 0;
                for chunk in sessions.chunks(1000) {
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO sessions (user_id, token_hash, csrf_secret, authenticated_at, last_seen_at, ip, user_agent, created_via) ",
                    );
                    q.push_values(chunk, |mut row, s| {
                        row.push_bind(s.user_id)
                            .push_bind(s.token.0.as_slice())
                            .push_bind(s.csrf_secret.as_slice())
                            .push_bind(s.authenticated_at)
                            .push_bind(s.last_seen_at)
                            .push_bind(&s.ip)
                            .push_bind(&s.user_agent)
                            .push_bind("import");
                    });
                    total += q.build().execute(&mut *tx).await.map_err(map_err)?.rows_affected();
                }
                tx.commit().await.map_err(map_err)?;
                Ok(total)
            }

            async fn session_by_token(
                &self,
                token: &TokenDigest,
            ) -> StoreResult<Option<(SessionAuth, User, SecuritySettings)>> {
                self.metrics.read();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {SESSION_COLS}, {USER_COLS}, st.agent_session_timeout, st.end_user_session_timeout,
                            st.maximum_session_duration, st.maximum_session_duration_enabled, s.csrf_secret, s.token_hash
                     FROM sessions s JOIN users u ON u.id = s.user_id CROSS JOIN security_settings st
                     WHERE s.token_hash = $1"
                )))
                .bind(token.0.as_slice())
                .fetch_optional(&self.reader)
                .await
                .map_err(map_err)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let stored: Vec<u8> = row.try_get(15).map_err(map_err)?;
                if !token.ct_eq(&stored) {
                    return Ok(None);
                }
                let auth = SessionAuth { session: session_at(&row, 0)?, csrf_secret: row.try_get(14).map_err(map_err)? };
                Ok(Some((auth, user_at(&row, 4)?, settings_at(&row, 10)?)))
            }

            async fn session_by_id(&self, id: SessionId) -> StoreResult<Option<(Session, Role)>> {
                self.metrics.read();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT {SESSION_COLS}, u.role FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1"
                )))
                .bind(id)
                .fetch_optional(&self.reader)
                .await
                .map_err(map_err)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let role: String = row.try_get(4).map_err(map_err)?;
                let role = Role::parse(&role).ok_or_else(|| StoreError::Other(format!("unknown role {role:?}")))?;
                Ok(Some((session_at(&row, 0)?, role)))
            }

            async fn touch_session(&self, id: SessionId, now: Timestamp) -> StoreResult<()> {
                self.metrics.last_seen_writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
                    .bind(id)
                    .bind(now)
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?;
                Ok(())
            }

            async fn touch_sessions(&self, touches: &[(SessionId, Timestamp)]) -> StoreResult<u64> {
                if touches.is_empty() {
                    return Ok(0);
                }
                self.metrics.activity_batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut tx = self.writer.begin().await.map_err(map_err)?;
                let mut n = 0;
                // One statement per 500 sessions; VALUES columns are column1, column2 in both
                // engines.
                for chunk in touches.chunks(500) {
                    let mut q = QueryBuilder::<$db>::new("UPDATE sessions SET last_seen_at = v.column2 FROM (");
                    q.push_values(chunk, |mut row, (id, now)| {
                        row.push_bind(*id).push_bind(*now);
                    });
                    q.push(") AS v WHERE sessions.id = v.column1 AND sessions.last_seen_at < v.column2");
                    n += q.build().execute(&mut *tx).await.map_err(map_err)?.rows_affected();
                }
                tx.commit().await.map_err(map_err)?;
                Ok(n)
            }

            async fn delete_session(&self, id: SessionId) -> StoreResult<bool> {
                self.metrics.write();
                let n = sqlx::query("DELETE FROM sessions WHERE id = $1")
                    .bind(id)
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn delete_sessions_of_users(&self, users: &[UserId]) -> StoreResult<u64> {
                self.users_sessions_delete(users).await
            }

            async fn delete_sessions(&self, ids: &[SessionId], owner: Option<UserId>) -> StoreResult<u64> {
                if ids.is_empty() {
                    return Ok(0);
                }
                self.metrics.write();
                let mut q = QueryBuilder::<$db>::new("DELETE FROM sessions WHERE id IN (");
                let mut list = q.separated(", ");
                for id in ids {
                    list.push_bind(*id);
                }
                q.push(")");
                if let Some(owner) = owner {
                    q.push(" AND user_id = ").push_bind(owner);
                }
                let n = q.build().execute(&self.writer).await.map_err(map_err)?.rows_affected();
                Ok(n)
            }

            async fn list_sessions_keyset(&self, scope: Scope, cutoffs: Cutoffs, page: Keyset) -> StoreResult<Vec<Session>> {
                self.metrics.read();
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {SESSION_COLS} FROM sessions s JOIN users u ON u.id = s.user_id WHERE "
                ));
                push_alive(&mut q, cutoffs);
                push_scope(&mut q, scope);
                let backwards = push_keyset(&mut q, page);
                let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
                let mut sessions = rows.iter().map(|r| session_at(r, 0)).collect::<StoreResult<Vec<_>>>()?;
                if backwards {
                    sessions.reverse();
                }
                Ok(sessions)
            }

            async fn list_sessions_offset(
                &self,
                scope: Scope,
                cutoffs: Cutoffs,
                sort: Sort,
                offset: u32,
                limit: u32,
            ) -> StoreResult<Vec<Session>> {
                self.metrics.read();
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {SESSION_COLS} FROM sessions s JOIN users u ON u.id = s.user_id WHERE "
                ));
                push_alive(&mut q, cutoffs);
                push_scope(&mut q, scope);
                push_order(&mut q, sort, false);
                q.push(" LIMIT ").push_bind(i64::from(limit)).push(" OFFSET ").push_bind(i64::from(offset));
                let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
                rows.iter().map(|r| session_at(r, 0)).collect()
            }

            async fn count_sessions(&self, scope: Scope, cutoffs: Cutoffs) -> StoreResult<i64> {
                self.metrics.read();
                if scope == Scope::All {
                    // Stored (kept by triggers, migration 0005) minus stored-but-ended, in one
                    // statement (one snapshot). Every ended session was last seen before the
                    // later idle cutoff or (team) signed in before the duration cutoff, so
                    // only those few rows near or past expiry are examined, by index.
                    let mut q = QueryBuilder::<$db>::new(
                        "SELECT CAST((SELECT COALESCE(SUM(n), 0) FROM session_totals) AS BIGINT) - (SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE (s.last_seen_at <= ",
                    );
                    q.push_bind(cutoffs.team_idle.max(cutoffs.end_user_idle))
                        .push(" OR s.authenticated_at <= ")
                        .push_bind(cutoffs.team_max_duration)
                        .push(") AND NOT ");
                    push_alive(&mut q, cutoffs);
                    q.push(")");
                    return q.build_query_scalar().fetch_one(&self.reader).await.map_err(map_err);
                }
                let mut q =
                    QueryBuilder::<$db>::new("SELECT COUNT(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE ");
                push_alive(&mut q, cutoffs);
                push_scope(&mut q, scope);
                q.build_query_scalar().fetch_one(&self.reader).await.map_err(map_err)
            }

            async fn list_session_details(
                &self,
                filter: &SessionFilter,
                cutoffs: Cutoffs,
                page: Keyset,
            ) -> StoreResult<Vec<SessionDetail>> {
                self.metrics.read();
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {SESSION_COLS}, s.ip, s.user_agent, {USER_COLS} FROM sessions s JOIN users u ON u.id = s.user_id WHERE "
                ));
                push_alive(&mut q, cutoffs);
                match filter {
                    SessionFilter::All => {}
                    SessionFilter::User(id) => {
                        q.push(" AND s.user_id = ").push_bind(*id);
                    }
                    SessionFilter::EmailContains(text) => {
                        q.push(" AND u.email LIKE ").push_bind(contains_pattern(&text.to_lowercase())).push(" ESCAPE '!'");
                    }
                }
                let backwards = push_keyset(&mut q, page);
                let rows = q.build().fetch_all(&self.reader).await.map_err(map_err)?;
                let mut details = rows
                    .iter()
                    .map(|r| {
                        Ok(SessionDetail {
                            session: session_at(r, 0)?,
                            ip: r.try_get(4).map_err(map_err)?,
                            user_agent: r.try_get(5).map_err(map_err)?,
                            user: user_at(r, 6)?,
                        })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                if backwards {
                    details.reverse();
                }
                Ok(details)
            }

            async fn delete_other_sessions(&self, user_id: UserId, keep: SessionId) -> StoreResult<u64> {
                self.metrics.write();
                let n = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                    .bind(user_id)
                    .bind(keep)
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                Ok(n)
            }

            async fn sweep_expired(&self, cutoffs: Cutoffs, batch: u32) -> StoreResult<u64> {
                self.metrics.write();
                let mut q = QueryBuilder::<$db>::new(
                    "DELETE FROM sessions WHERE id IN (SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE NOT ",
                );
                push_alive(&mut q, cutoffs);
                q.push(" LIMIT ").push_bind(i64::from(batch)).push(")");
                Ok(q.build().execute(&self.writer).await.map_err(map_err)?.rows_affected())
            }

            async fn create_api_token(
                &self,
                user_id: UserId,
                description: &str,
                token: &TokenDigest,
                now: Timestamp,
            ) -> StoreResult<ApiToken> {
                self.metrics.write();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO api_tokens (user_id, description, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(user_id)
                .bind(description)
                .bind(token.0.as_slice())
                .bind(now)
                .fetch_one(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(ApiToken { id, user_id, description: description.to_owned(), created_at: now })
            }

            async fn api_token_user(&self, token: &TokenDigest) -> StoreResult<Option<(ApiToken, User)>> {
                self.metrics.read();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT t.id, t.user_id, t.description, t.created_at, {USER_COLS}, t.token_hash
                     FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
                )))
                .bind(token.0.as_slice())
                .fetch_optional(&self.reader)
                .await
                .map_err(map_err)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let stored: Vec<u8> = row.try_get(10).map_err(map_err)?;
                if !token.ct_eq(&stored) {
                    return Ok(None);
                }
                Ok(Some((api_token_at(&row, 0)?, user_at(&row, 4)?)))
            }

            async fn list_api_tokens(&self, user_id: UserId) -> StoreResult<Vec<ApiToken>> {
                self.metrics.read();
                let rows =
                    sqlx::query("SELECT id, user_id, description, created_at FROM api_tokens WHERE user_id = $1 ORDER BY id")
                        .bind(user_id)
                        .fetch_all(&self.reader)
                        .await
                        .map_err(map_err)?;
                rows.iter().map(|r| api_token_at(r, 0)).collect()
            }

            async fn delete_api_token(&self, id: i64, owner: Option<UserId>) -> StoreResult<bool> {
                self.metrics.write();
                let n = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND ($2 IS NULL OR user_id = $2)")
                    .bind(id)
                    .bind(owner)
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn create_oauth_token(
                &self,
                user_id: UserId,
                scopes: &[String],
                token: &TokenDigest,
                now: Timestamp,
                expires_at: Option<Timestamp>,
            ) -> StoreResult<OAuthToken> {
                self.metrics.write();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO oauth_tokens (user_id, scopes, token_hash, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(user_id)
                .bind(scopes.join(" "))
                .bind(token.0.as_slice())
                .bind(now)
                .bind(expires_at)
                .fetch_one(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(OAuthToken { id, user_id, scopes: scopes.to_vec(), created_at: now, expires_at })
            }

            async fn oauth_token_user(&self, token: &TokenDigest) -> StoreResult<Option<(OAuthToken, User)>> {
                self.metrics.read();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT t.id, t.user_id, t.scopes, t.created_at, t.expires_at, {USER_COLS}, t.token_hash
                     FROM oauth_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
                )))
                .bind(token.0.as_slice())
                .fetch_optional(&self.reader)
                .await
                .map_err(map_err)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let stored: Vec<u8> = row.try_get(11).map_err(map_err)?;
                if !token.ct_eq(&stored) {
                    return Ok(None);
                }
                Ok(Some((oauth_token_at(&row, 0)?, user_at(&row, 5)?)))
            }

            async fn delete_oauth_token(&self, id: i64) -> StoreResult<bool> {
                self.metrics.write();
                let n = sqlx::query("DELETE FROM oauth_tokens WHERE id = $1")
                    .bind(id)
                    .execute(&self.writer)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                Ok(n > 0)
            }

            async fn begin_sign_in_attempt(
            &self,
            account: &[u8; 32],
            ip: &str,
            now: Timestamp,
            policy: ThrottlePolicy,
        ) -> StoreResult<Attempt> {
            use crate::domain::throttle::retry_after;
            self.metrics.write();
            let mut tx = self.writer.begin().await.map_err(map_err)?;
            lock_throttle_keys(&mut tx, account, ip).await?;
            let known: Option<i64> = sqlx::query_scalar(
                "SELECT at FROM sign_in_successes WHERE account = $1 AND ip = $2 AND at > $3",
            )
            .bind(account.as_slice())
            .bind(ip)
            .bind(now.saturating_sub(policy.known_address_for))
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            let windows = [
                ("account", policy.account_short_window, policy.account_short_max),
                ("account", policy.account_long_window, policy.account_long_max),
                ("ip", policy.ip_window, policy.ip_max),
            ];
            for (column, window, max) in windows {
                let q = match (column, known.is_some()) {
                    // From a known address, only that address's own failures count.
                    ("account", true) => sqlx::query(
                        "SELECT COUNT(*), MIN(at) FROM sign_in_failures WHERE account = $1 AND ip = $2 AND at > $3",
                    )
                    .bind(account.as_slice())
                    .bind(ip),
                    ("account", false) => {
                        sqlx::query("SELECT COUNT(*), MIN(at) FROM sign_in_failures WHERE account = $1 AND at > $2")
                            .bind(account.as_slice())
                    }
                    _ => sqlx::query("SELECT COUNT(*), MIN(at) FROM sign_in_failures WHERE ip = $1 AND at > $2").bind(ip),
                };
                let row = q.bind(now.saturating_sub(window)).fetch_one(&mut *tx).await.map_err(map_err)?;
                let count: i64 = row.try_get(0).map_err(map_err)?;
                let oldest: Option<i64> = row.try_get(1).map_err(map_err)?;
                if count >= max {
                    tx.rollback().await.map_err(map_err)?;
                    return Ok(Attempt::Throttled(retry_after(oldest.unwrap_or(now), window, now)));
                }
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO sign_in_failures (account, ip, at) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(account.as_slice())
            .bind(ip)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(Attempt::Allowed(id))
        }

        async fn release_sign_in_attempt(&self, id: i64, account: &[u8; 32], ip: &str, now: Timestamp) -> StoreResult<()> {
            self.metrics.write();
            let mut tx = self.writer.begin().await.map_err(map_err)?;
            sqlx::query("DELETE FROM sign_in_failures WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(map_err)?;
            sqlx::query(
                "INSERT INTO sign_in_successes (account, ip, at) VALUES ($1, $2, $3)
                 ON CONFLICT (account, ip) DO UPDATE SET at = excluded.at",
            )
            .bind(account.as_slice())
            .bind(ip)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(())
        }

        async fn prune_sign_in_failures(&self, before: Timestamp, known_before: Timestamp) -> StoreResult<u64> {
            self.metrics.write();
            let n = sqlx::query("DELETE FROM sign_in_failures WHERE at < $1")
                .bind(before)
                .execute(&self.writer)
                .await
                .map_err(map_err)?
                .rows_affected();
            let m = sqlx::query("DELETE FROM sign_in_successes WHERE at < $1")
                .bind(known_before)
                .execute(&self.writer)
                .await
                .map_err(map_err)?
                .rows_affected();
            Ok(n + m)
        }

        async fn security_settings(&self) -> StoreResult<SecuritySettings> {
                self.metrics.read();
                let row = sqlx::query(
                    "SELECT agent_session_timeout, end_user_session_timeout, maximum_session_duration,
                            maximum_session_duration_enabled FROM security_settings WHERE id = 1",
                )
                .fetch_optional(&self.reader)
                .await
                .map_err(map_err)?;
                row.map(|r| settings_at(&r, 0)).transpose().map(Option::unwrap_or_default)
            }

            async fn put_security_settings(&self, s: SecuritySettings) -> StoreResult<()> {
                self.metrics.write();
                sqlx::query(
                    "UPDATE security_settings SET agent_session_timeout = $1, end_user_session_timeout = $2,
                            maximum_session_duration = $3, maximum_session_duration_enabled = $4 WHERE id = 1",
                )
                .bind(s.agent_session_timeout)
                .bind(s.end_user_session_timeout)
                .bind(s.maximum_session_duration)
                .bind(s.maximum_session_duration_enabled)
                .execute(&self.writer)
                .await
                .map_err(map_err)?;
                Ok(())
            }
        }

    };
}

pub(crate) use sql_store;
