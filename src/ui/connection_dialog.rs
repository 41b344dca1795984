//! The connection settings dialog: server (private or host/port/database/user/password/sslmode),
//! pool min/max, "Test connection" (which the app runs off the UI thread and answers through
//! [`ConnectionDialog::set_test_result`]), and Apply, which hands new [`Settings`] to the app so
//! it rebuilds the pool without restarting.
//!
//! The password lives only in memory for this session; it is never written to the saved state.

use std::path::PathBuf;

use egui::{RichText, Ui};

use crate::config::{
    ConnectParams, Origin, PoolSettings, Provenance, Secret, ServerChoice, Settings, SslMode,
};
use crate::ui::command::Command;

/// The dialog's form and the state of its connection test.
#[derive(Debug)]
pub struct ConnectionDialog {
    /// Shown or not.
    pub open: bool,
    private: bool,
    data_dir: PathBuf,
    host: String,
    port: u16,
    dbname: String,
    user: String,
    password: String,
    sslmode: SslMode,
    /// The `replicas` setting as text: hosts or a URL; empty for none.
    replicas: String,
    pool_min: u32,
    pool_max: u32,
    base_pool: PoolSettings,
    /// The `[source]` settings, carried through unchanged (the dialog does not edit them).
    base_source: crate::config::SourceSettings,
    base_params: ConnectParams,
    /// Where each setting came from (flag, environment, config file, service, password file).
    provenance: Provenance,
    /// A test is under way (the app runs it).
    testing: bool,
    test_result: Option<Result<String, String>>,
}

impl ConnectionDialog {
    /// A closed dialog whose form shows `settings`.
    pub fn new(settings: &Settings) -> Self {
        let mut dialog = Self {
            open: false,
            private: true,
            data_dir: crate::config::default_data_dir(),
            host: String::new(),
            port: 5432,
            dbname: String::new(),
            user: String::new(),
            password: String::new(),
            sslmode: SslMode::Prefer,
            replicas: String::new(),
            pool_min: 0,
            pool_max: 0,
            base_pool: PoolSettings::default(),
            base_source: crate::config::SourceSettings::default(),
            base_params: ConnectParams::default(),
            provenance: Provenance::default(),
            testing: false,
            test_result: None,
        };
        dialog.load(settings);
        dialog
    }

    /// Refills the form from `settings` (when opening, so Cancel forgets edits).
    pub fn load(&mut self, settings: &Settings) {
        let params = match &settings.server {
            ServerChoice::Private { data_dir } => {
                self.private = true;
                self.data_dir = data_dir.clone();
                ConnectParams::default()
            }
            ServerChoice::External(params) => {
                self.private = false;
                params.clone()
            }
        };
        self.host = params.host.clone();
        self.port = params.port;
        self.dbname = params.dbname.clone();
        self.user = params.user.clone();
        self.password = params
            .password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default();
        self.sslmode = params.sslmode;
        self.replicas = self.base_replicas_text_of(&params);
        self.base_params = params;
        self.pool_min = settings.pool.min_idle;
        self.pool_max = settings.pool.max_size;
        self.base_pool = settings.pool.clone();
        self.base_source = settings.source.clone();
        // A test of the forgotten edits must not answer for the reloaded form (the app drops
        // the test itself).
        self.testing = false;
        self.test_result = None;
    }

    fn base_replicas_text_of(&self, params: &ConnectParams) -> String {
        params
            .replicas
            .as_deref()
            .map(|r| crate::config::replicas_text(r, params))
            .unwrap_or_default()
    }

    /// The replicas the form names: the loaded ones while the field is untouched (a URL's
    /// password is not shown, so it is kept this way), none when emptied, else the field read
    /// as the setting is.
    fn replicas_in_form(
        &self,
        server: &ConnectParams,
    ) -> Result<Option<Box<ConnectParams>>, String> {
        let text = self.replicas.trim();
        if text == self.base_replicas_text_of(&self.base_params) {
            return Ok(self.base_params.replicas.clone());
        }
        if text.is_empty() {
            return Ok(None);
        }
        crate::config::replica_params(text, server, None)
            .map(|r| Some(Box::new(r)))
            .map_err(|e| format!("Read replicas: {e}"))
    }

    /// Where the loaded settings came from; shown beside each field.
    pub fn set_provenance(&mut self, provenance: Provenance) {
        self.provenance = provenance;
    }

    /// The fields whose form value differs from the settings loaded, by libpq keyword.
    fn edited(&self) -> Vec<&'static str> {
        let base = &self.base_params;
        let password = base
            .password
            .as_ref()
            .map(Secret::expose)
            .unwrap_or_default();
        [
            ("host", self.host.trim() != base.host),
            ("port", self.port != base.port),
            ("dbname", self.dbname.trim() != base.dbname),
            ("user", self.user.trim() != base.user),
            ("password", self.password != password),
            ("sslmode", self.sslmode != base.sslmode),
            (
                "replicas",
                self.replicas.trim() != self.base_replicas_text_of(base),
            ),
            ("pool_min", self.pool_min != self.base_pool.min_idle),
            ("pool_max", self.pool_max != self.base_pool.max_size),
        ]
        .into_iter()
        .filter(|(_, edited)| *edited)
        .map(|(key, _)| key)
        .collect()
    }

    /// "from PGHOST", "set here", "default": where the field's value comes from now.
    fn origin(&self, keyword: &'static str) -> String {
        if self.edited().contains(&keyword) {
            "set here".to_owned()
        } else {
            self.provenance.describe(keyword)
        }
    }

    /// The settings the form describes.
    pub fn settings(&self) -> Settings {
        let server = if self.private {
            ServerChoice::Private {
                data_dir: self.data_dir.clone(),
            }
        } else {
            let mut params = ConnectParams {
                host: self.host.trim().to_owned(),
                port: self.port,
                dbname: self.dbname.trim().to_owned(),
                user: self.user.trim().to_owned(),
                password: (!self.password.is_empty()).then(|| Secret::new(self.password.clone())),
                sslmode: self.sslmode,
                replicas: None,
                ..self.base_params.clone()
            };
            // Apply is offered only while the field reads; until then the loaded ones stand.
            params.replicas = self
                .replicas_in_form(&params)
                .unwrap_or_else(|_| self.base_params.replicas.clone());
            ServerChoice::External(params)
        };
        Settings {
            server,
            pool: PoolSettings {
                min_idle: self.pool_min.min(self.pool_max),
                max_size: self.pool_max.max(1),
                ..self.base_pool.clone()
            },
            source: self.base_source.clone(),
        }
    }

    /// The answer of the test the app ran: `Ok` says what answered, `Err` what went wrong.
    pub fn set_test_result(&mut self, result: Result<String, String>) {
        self.testing = false;
        self.test_result = Some(result);
    }

    /// Draws the dialog when open.
    pub fn ui(&mut self, ctx: &egui::Context, commands: &mut Vec<Command>) {
        if !self.open {
            return;
        }
        let mut open = self.open;
        let mut close = false;
        // Esc closes it like Cancel (a combo box that is open takes its own Esc first).
        let escape =
            ctx.input(|i| i.key_pressed(egui::Key::Escape)) && !egui::Popup::is_any_open(ctx);
        egui::Window::new("Connection settings")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(380.0)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                close = self.form_ui(ui, commands);
            });
        self.open = open && !close && !escape;
    }

    fn form_ui(&mut self, ui: &mut Ui, commands: &mut Vec<Command>) -> bool {
        ui.horizontal(|ui| {
            ui.radio_value(&mut self.private, true, "Private server")
                .on_hover_text("Marquee runs its own PostgreSQL in its data folder");
            ui.radio_value(&mut self.private, false, "PostgreSQL server");
        });
        ui.add_space(4.0);
        if self.private {
            ui.label(format!("Data folder: {}", self.data_dir.display()));
        } else {
            egui::Grid::new("connection_form")
                .num_columns(3)
                .spacing([8.0, 6.0])
                .show(ui, |ui| {
                    // Each field is named by its visible label, so screen readers (and tests)
                    // can tell the fields apart.
                    let label = ui.label("Host").id;
                    ui.text_edit_singleline(&mut self.host).labelled_by(label);
                    ui.weak(self.origin("host"));
                    ui.end_row();
                    let label = ui.label("Port").id;
                    ui.add(egui::DragValue::new(&mut self.port).range(1..=65_535))
                        .labelled_by(label);
                    ui.weak(self.origin("port"));
                    ui.end_row();
                    let label = ui.label("Database").id;
                    ui.text_edit_singleline(&mut self.dbname).labelled_by(label);
                    ui.weak(self.origin("dbname"));
                    ui.end_row();
                    let label = ui.label("User").id;
                    ui.text_edit_singleline(&mut self.user).labelled_by(label);
                    ui.weak(self.origin("user"));
                    ui.end_row();
                    let label = ui.label("Password").id;
                    ui.add(egui::TextEdit::singleline(&mut self.password).password(true))
                        .labelled_by(label);
                    ui.weak(self.origin("password"));
                    ui.end_row();
                    ui.label("");
                    ui.weak("not saved; use PGPASSWORD or the config file");
                    ui.end_row();
                    let label = ui.label("SSL mode").id;
                    egui::ComboBox::from_id_salt("sslmode")
                        .selected_text(self.sslmode.as_str())
                        .show_ui(ui, |ui| {
                            for mode in SslMode::ALL {
                                ui.selectable_value(&mut self.sslmode, mode, mode.as_str());
                            }
                        })
                        .response
                        .labelled_by(label);
                    ui.weak(self.origin("sslmode"));
                    ui.end_row();
                    let label = ui.label("Read replicas").id;
                    ui.add(
                        egui::TextEdit::singleline(&mut self.replicas)
                            .hint_text("none: every read on the server"),
                    )
                    .labelled_by(label)
                    .on_hover_text(
                        "Standbys for browsing reads: hosts (r1:5432,r2) that share the server's \
                         role and database, or a URL of their own. Writes stay on the server.",
                    );
                    ui.weak(self.origin("replicas"));
                    ui.end_row();
                });
        }
        let replicas_problem = if self.private {
            None
        } else {
            let server = ConnectParams {
                host: self.host.trim().to_owned(),
                port: self.port,
                ..self.base_params.clone()
            };
            self.replicas_in_form(&server).err()
        };
        if let Some(problem) = &replicas_problem {
            ui.colored_label(ui.visuals().error_fg_color, problem.as_str());
        }
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            let label = ui.label("Pool min").id;
            ui.add(egui::DragValue::new(&mut self.pool_min).range(0..=100))
                .labelled_by(label);
            let label = ui.label("max").id;
            ui.add(egui::DragValue::new(&mut self.pool_max).range(1..=100))
                .labelled_by(label);
        })
        .response
        .on_hover_text(format!(
            "min {}, max {}",
            self.origin("pool_min"),
            self.origin("pool_max")
        ));
        ui.add_space(6.0);
        if let Some(result) = &self.test_result {
            match result {
                Ok(text) => ui.label(
                    RichText::new(text.as_str()).color(egui::Color32::from_rgb(80, 170, 90)),
                ),
                Err(text) => ui.colored_label(ui.visuals().error_fg_color, text.as_str()),
            };
        }
        let mut close = false;
        ui.horizontal(|ui| {
            let testing = self.testing;
            let test = ui.add_enabled(
                !testing && !self.private,
                egui::Button::new("Test connection"),
            );
            if test.clicked()
                && let ServerChoice::External(params) = self.settings().server
            {
                self.testing = true;
                self.test_result = None;
                commands.push(Command::TestConnection(Box::new(params)));
            }
            if testing {
                ui.spinner();
            }
            let apply = ui.add_enabled(replicas_problem.is_none(), egui::Button::new("Apply"));
            if apply.clicked() {
                for keyword in self.edited() {
                    self.provenance.set(keyword, Origin::Dialog);
                }
                commands.push(Command::ApplySettings(Box::new(self.settings())));
                close = true;
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
        close
    }
}
