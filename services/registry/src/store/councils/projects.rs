//! The buildings' projects and their moves.

use super::*;

impl Store {
    // Projects.

    pub(super) async fn check_project_links(
        &self,
        connection: &mut AnyConnection,
        field: &str,
        input: &ProjectInput,
    ) -> Result<(), RegistryError> {
        for (index, resource) in input.resources.iter().enumerate() {
            if !exists(
                connection,
                "SELECT 1 FROM building_resources WHERE id = $1",
                &[resource],
            )
            .await?
            {
                return Err(louyu_kit::error::InvalidArgument::new(
                    format!("{field}.resources[{index}]"),
                    format!(
                        "资源不存在 unknown resource {}",
                        self.names.resource(resource)
                    ),
                )
                .into());
            }
        }
        self.check_enterprise(connection, &format!("{field}.proposer"), &input.proposer)
            .await?;
        for (index, participant) in input.participants.iter().enumerate() {
            self.check_enterprise(
                connection,
                &format!("{field}.participants[{index}]"),
                participant,
            )
            .await?;
        }
        Ok(())
    }

    /// Writes a new project in the caller's transaction.
    pub(super) async fn insert_project(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
        input: &ProjectInput,
        actor: &str,
    ) -> Result<(), RegistryError> {
        let now = louyu_kit::time::now_micros();
        let name = self.project_name(building_id, id);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $8)"
        )))
        .bind(id)
        .bind(building_id)
        .bind(&input.title)
        .bind(&input.description)
        .bind(json(&OrganisationRecord::from(&input.proposer))?)
        .bind(json(
            &input
                .participants
                .iter()
                .map(OrganisationRecord::from)
                .collect::<Vec<_>>(),
        )?)
        .bind(i64::from(ProjectState::Proposed as i32))
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(|error| RegistryError::from(error).when_creating(&name))?;
        self.write_project_links(connection, id, input).await?;
        insert_project_change(
            connection,
            id,
            ProjectState::Unspecified,
            ProjectState::Proposed,
            actor,
            "",
            now,
        )
        .await
    }

    async fn write_project_links(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        input: &ProjectInput,
    ) -> Result<(), RegistryError> {
        for (table, column, values) in [
            ("project_demands", "demand_id", &input.demands),
            ("project_resources", "resource_id", &input.resources),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE project_id = $1"
            )))
            .bind(id)
            .execute(&mut *connection)
            .await?;
            for value in values {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {table} (project_id, {column}) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                )))
                .bind(id)
                .bind(value)
                .execute(&mut *connection)
                .await?;
            }
        }
        Ok(())
    }

    pub async fn create_project(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        input: ProjectInput,
    ) -> Result<Project, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            self.check_project_links(&mut transaction, "project", &input)
                .await?;
            self.insert_project(
                &mut transaction,
                building_id,
                id,
                &input,
                &call.context.actor,
            )
            .await?;
            self.finish_project(transaction, call, building_id, id)
                .await
        })
        .await
    }

    pub async fn update_project(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        apply: impl FnOnce(&mut Project) -> Result<ProjectInput, RegistryError>,
    ) -> Result<Project, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            self.lock_project(&mut transaction, building_id, id).await?;
            let mut project = self.project_in(&mut transaction, building_id, id).await?;
            let input = apply(&mut project)?;
            self.check_project_links(&mut transaction, "project", &input)
                .await?;
            sqlx::query(
                "UPDATE projects SET title = $1, description = $2, participants = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(&input.title)
            .bind(&input.description)
            .bind(json(
                &input
                    .participants
                    .iter()
                    .map(OrganisationRecord::from)
                    .collect::<Vec<_>>(),
            )?)
            .bind(louyu_kit::time::now_micros())
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            self.write_project_links(&mut transaction, id, &input)
                .await?;
            self.finish_project(transaction, call, building_id, id)
                .await
        })
        .await
    }

    async fn lock_project(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
    ) -> Result<ProjectState, RegistryError> {
        let lock = self.db.row_lock(RowLock::ForUpdate, "projects");
        let state: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT state FROM projects WHERE id = $1 AND building_id = $2{lock}"
        )))
        .bind(id)
        .bind(building_id)
        .fetch_optional(&mut *connection)
        .await?;
        let state =
            state.ok_or_else(|| RegistryError::not_found(self.project_name(building_id, id)))?;
        Ok(ProjectState::try_from(state as i32).unwrap_or(ProjectState::Unspecified))
    }

    /// Moves a project in the caller's transaction, the row locked here.
    pub(super) async fn move_project(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
        to: ProjectState,
        reason: &str,
        actor: &str,
    ) -> Result<(), RegistryError> {
        let from = self.lock_project(connection, building_id, id).await?;
        if !project_move_allowed(from, to) {
            return Err(RegistryError::FailedPrecondition(format!(
                "{} 当前为 {}，不能改为 {} is {}: it cannot move to {}",
                self.project_name(building_id, id),
                from.as_str_name(),
                to.as_str_name(),
                from.as_str_name(),
                to.as_str_name()
            )));
        }
        let now = louyu_kit::time::now_micros();
        sqlx::query(
            "UPDATE projects SET state = $1, drop_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(i64::from(to as i32))
        .bind(if to == ProjectState::Dropped {
            reason
        } else {
            ""
        })
        .bind(now)
        .bind(id)
        .execute(&mut *connection)
        .await?;
        insert_project_change(connection, id, from, to, actor, reason, now).await
    }

    pub async fn transition_project(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        to: ProjectState,
        reason: String,
    ) -> Result<Project, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            self.move_project(
                &mut transaction,
                building_id,
                id,
                to,
                &reason,
                &call.context.actor,
            )
            .await?;
            self.finish_project(transaction, call, building_id, id)
                .await
        })
        .await
    }

    /// Ends a project's write: reads it back, commits with the call's key,
    /// audit record and `ProjectChanged`, and answers with it.
    async fn finish_project(
        &self,
        mut transaction: louyu_kit::db::Tx,
        call: &Call,
        building_id: &str,
        id: &str,
    ) -> Result<Project, RegistryError> {
        let project = self.project_in(&mut transaction, building_id, id).await?;
        let name = project.name.clone();
        let event = project_changed(&project);
        self.finish(transaction, call, &name, &project, vec![event])
            .await?;
        Ok(project)
    }

    pub async fn get_project(
        &self,
        building_id: &str,
        id: &str,
        reach: &Reach,
    ) -> Result<Project, RegistryError> {
        self.check_building_read(building_id, reach).await?;
        let mut connection = self.db.pool().acquire().await?;
        self.project_in(&mut connection, building_id, id).await
    }

    /// Projects of a building, or of every building within reach (`None`).
    pub async fn list_projects(
        &self,
        building_id: Option<&str>,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Project>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE 1 = 1"
        ));
        match building_id {
            Some(building_id) => {
                self.check_building_read(building_id, reach).await?;
                query
                    .push(" AND building_id = ")
                    .push_value(SqlValue::Text(building_id.to_owned()));
            }
            None => {
                query.push(" AND building_id IN (SELECT id FROM buildings WHERE 1 = 1");
                reach.push_condition(&mut query, &BUILDINGS.sql);
                query.push(")");
            }
        }
        filter::push_conditions(&page.comparisons, PROJECT_FILTERS, &mut query)?;
        let (mut projects, next) = self
            .list_page(
                query,
                "id",
                page,
                |row| self.project_from_row(row),
                |item| last_id(&item.name).to_owned(),
            )
            .await?;
        let mut connection = self.db.pool().acquire().await?;
        self.fill_projects(&mut connection, &mut projects).await?;
        Ok((projects, next))
    }

    pub(super) async fn project_in(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
    ) -> Result<Project, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1 AND building_id = $2"
        )))
        .bind(id)
        .bind(building_id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.project_name(building_id, id)))?;
        let mut project = self.project_from_row(&row)?;
        self.fill_projects(connection, std::slice::from_mut(&mut project))
            .await?;
        Ok(project)
    }

    /// The project's links and history.
    /// Fills the links and history of a page of projects: one query per
    /// child table for the whole page (kit's `ChildRows`).
    async fn fill_projects(
        &self,
        connection: &mut AnyConnection,
        projects: &mut [Project],
    ) -> Result<(), RegistryError> {
        use louyu_kit::page::ChildRows;
        let ids: Vec<String> = projects
            .iter()
            .map(|project| last_id(&project.name).to_owned())
            .collect();
        let mut demands = ChildRows::fetch(
            &mut *connection,
            "SELECT project_id, demand_id FROM project_demands WHERE 1 = 1",
            "project_id",
            &ids,
            "project_id, demand_id",
        )
        .await?;
        let mut resources = ChildRows::fetch(
            &mut *connection,
            "SELECT project_id, resource_id FROM project_resources WHERE 1 = 1",
            "project_id",
            &ids,
            "project_id, resource_id",
        )
        .await?;
        let mut changes = ChildRows::fetch(
            &mut *connection,
            "SELECT project_id, from_state, to_state, actor, reason, at FROM project_changes WHERE 1 = 1",
            "project_id",
            &ids,
            "project_id, position",
        )
        .await?;
        for (project, id) in projects.iter_mut().zip(&ids) {
            project.demands = demands.take_as(id, |row| {
                Ok::<_, RegistryError>(
                    self.names
                        .name("demands", &row.try_get::<String, _>("demand_id")?),
                )
            })?;
            project.resources = resources.take_as(id, |row| {
                Ok::<_, RegistryError>(
                    self.names
                        .resource(&row.try_get::<String, _>("resource_id")?),
                )
            })?;
            project.history = changes.take_as(id, |row| {
                Ok::<_, RegistryError>(ProjectChange {
                    from_state: row.try_get::<i64, _>("from_state")? as i32,
                    to_state: row.try_get::<i64, _>("to_state")? as i32,
                    actor: row.try_get("actor")?,
                    reason: row.try_get("reason")?,
                    time: timestamp(row, "at")?,
                })
            })?;
        }
        Ok(())
    }

    fn organisation_of(&self, record: OrganisationRecord) -> Organisation {
        Organisation {
            kind: record.kind,
            enterprise: if record.enterprise.is_empty() {
                String::new()
            } else {
                self.names.enterprise(&record.enterprise)
            },
            display_name: record.display_name,
        }
    }

    fn project_from_row(&self, row: &AnyRow) -> Result<Project, RegistryError> {
        let id: String = row.try_get("id")?;
        let building_id: String = row.try_get("building_id")?;
        let proposer: OrganisationRecord =
            serde_json::from_str(&row.try_get::<String, _>("proposer")?)?;
        let participants: Vec<OrganisationRecord> =
            serde_json::from_str(&row.try_get::<String, _>("participants")?)?;
        Ok(Project {
            name: self.project_name(&building_id, &id),
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            proposer: Some(self.organisation_of(proposer)),
            participants: participants
                .into_iter()
                .map(|participant| self.organisation_of(participant))
                .collect(),
            demands: Vec::new(),
            resources: Vec::new(),
            state: row.try_get::<i64, _>("state")? as i32,
            drop_reason: row.try_get("drop_reason")?,
            history: Vec::new(),
            create_time: timestamp(row, "created_at")?,
            update_time: timestamp(row, "updated_at")?,
        })
    }
}

async fn insert_project_change(
    connection: &mut AnyConnection,
    id: &str,
    from: ProjectState,
    to: ProjectState,
    actor: &str,
    reason: &str,
    at: i64,
) -> Result<(), RegistryError> {
    sqlx::query(
        "INSERT INTO project_changes (project_id, position, from_state, to_state, actor, reason, at) \
         VALUES ($1, (SELECT COUNT(*) FROM project_changes WHERE project_id = $1), $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(i64::from(from as i32))
    .bind(i64::from(to as i32))
    .bind(actor)
    .bind(reason)
    .bind(at)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

pub(super) fn project_changed(project: &Project) -> NewEvent {
    NewEvent::new(
        &project.name,
        &ProjectChanged {
            project: Some(project.clone()),
        },
    )
}

fn project_state_number(name: &str) -> Option<i32> {
    ProjectState::from_str_name(name)
        .or_else(|| ProjectState::from_str_name(&format!("PROJECT_STATE_{name}")))
        .map(|state| state as i32)
}

fn demand_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    let name = filter::quoted_name(comparison)?;
    query.push(" AND id IN (SELECT project_id FROM project_demands WHERE demand_id = ");
    query.push_value(SqlValue::Text(last_id(name).to_owned()));
    query.push(")");
    Ok(())
}

fn resource_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    let name = filter::quoted_name(comparison)?;
    query.push(" AND id IN (SELECT project_id FROM project_resources WHERE resource_id = ");
    query.push_value(SqlValue::Text(last_id(name).to_owned()));
    query.push(")");
    Ok(())
}

const PROJECT_FILTERS: &[FilterField] = &[
    FilterField {
        name: "state",
        column: "state",
        kind: FieldKind::Enum(project_state_number),
    },
    FilterField {
        name: "demand",
        column: "id",
        kind: FieldKind::Custom(demand_filter),
    },
    FilterField {
        name: "resource",
        column: "id",
        kind: FieldKind::Custom(resource_filter),
    },
];
