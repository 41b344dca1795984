//! The filter bar: title search, genre chips, year range, minimum rating and votes, and the
//! filter's text form in an editable field, all kept in sync through one draft [`Filter`].
//!
//! The text form (`Filter::to_text` / `Filter::parse`) is the single source of truth shared with
//! the CLI: widgets edit the draft and rewrite the text; a valid edit of the text rewrites the
//! widgets. The bar owns no filter: every change goes out as one [`Command::Filter`], and the
//! browse model decides when it applies (after a pause for edits, at once for Enter and Clear).
//!
//! The text field never applies half-typed text: an edit is sent only while the whole text
//! parses, and text that does not parse withdraws the edit still waiting, so the table keeps
//! the last valid filter and the bar says so.

use egui::{Color32, Key, Modifiers, RichText, Ui};

use crate::browse::FilterChange;
use crate::completion::{self, TOKEN_HELP};
use crate::filter::{Filter, KNOWN_GENRES, MAX_YEAR, MIN_YEAR};
use crate::repo::facets::Facets;
use crate::ui::command::Command;

/// Id of the filter's text field.
pub const TEXT_ID: &str = "marquee.filter_text";

/// Id of the search field, so `/` can focus it and tests can find it.
pub const SEARCH_ID: &str = "marquee.search";

/// The filter bar's state.
#[derive(Debug, Default)]
pub struct FilterBar {
    /// The filter as shown and edited; ahead of the applied one while an edit waits.
    draft: Filter,
    /// The search field exactly as typed (the filter keeps it trimmed).
    search: String,
    year_min: String,
    year_max: String,
    /// The text form as shown and edited.
    text: String,
    /// Why the text form was rejected, if it was.
    text_error: Option<String>,
    /// Set by `/`: focus the search field on the next draw.
    focus_search: bool,
    /// Tags the database offered for the tag being typed, and the text they answer.
    tags: Vec<String>,
    tags_for: Option<String>,
    /// The completion row was drawn last frame (kept while a click on it is under way).
    completing: bool,
}

impl FilterBar {
    /// A bar showing `filter`.
    pub fn new(filter: &Filter) -> Self {
        let mut bar = Self::default();
        bar.show(filter);
        bar
    }

    /// The draft filter.
    pub fn draft(&self) -> &Filter {
        &self.draft
    }

    /// Shows `filter` in every widget (after a header click, Esc, Back, or a restore).
    pub fn show(&mut self, filter: &Filter) {
        self.draft = filter.clone();
        self.search = filter.title.clone();
        self.year_min = filter.year.min.map(|y| y.to_string()).unwrap_or_default();
        self.year_max = filter.year.max.map(|y| y.to_string()).unwrap_or_default();
        self.text = filter.to_text();
        self.text_error = None;
    }

    /// The database's tags for the tag being typed (`text`); dropped if typing moved on.
    pub fn set_tag_suggestions(&mut self, text: &str, tags: Vec<String>) {
        if self.tags_for.as_deref() == Some(text) {
            self.tags = tags;
        }
    }

    /// The completion row stays while a click on one of its buttons is under way (pressing
    /// it takes the focus from the field before the click completes).
    fn completing_click(&self, ui: &Ui) -> bool {
        self.completing && ui.input(|i| i.pointer.any_down() || i.pointer.any_released())
    }

    /// Asks for the search field to take keyboard focus (the `/` shortcut).
    pub fn focus_search(&mut self) {
        self.focus_search = true;
    }

    /// Draws the bar.
    pub fn ui(&mut self, ui: &mut Ui, facets: Option<&Facets>, commands: &mut Vec<Command>) {
        let mut changed = false;
        // Wraps rather than cut controls off in a small window.
        ui.horizontal_wrapped(|ui| {
            let search = ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .id(egui::Id::unique(SEARCH_ID))
                    .hint_text("Search titles   ( / )")
                    .desired_width(260.0),
            );
            if std::mem::take(&mut self.focus_search) {
                search.request_focus();
            }
            if search.lost_focus() && ui.input(|i| i.key_pressed(Key::Escape)) {
                self.search.clear();
            }
            if self.search.trim() != self.draft.title {
                self.draft.title = self.search.trim().to_owned();
                changed = true;
            }

            ui.separator();
            let label = ui.label("Year").id;
            changed |= year_field(
                ui,
                &mut self.year_min,
                &mut self.draft.year.min,
                "from",
                label,
            );
            let label = ui.label("–").id;
            changed |= year_field(
                ui,
                &mut self.year_max,
                &mut self.draft.year.max,
                "to",
                label,
            );

            ui.separator();
            let label = ui.label("Avg ≥").id;
            let mut min_rating = self.draft.rating.min.unwrap_or(0.0);
            let slider = ui
                .add(
                    egui::Slider::new(&mut min_rating, 0.0..=5.0)
                        .step_by(0.5)
                        .fixed_decimals(1),
                )
                .labelled_by(label);
            if slider.changed() {
                self.draft.rating.min = (min_rating > 0.0).then_some(min_rating);
                changed = true;
            }

            ui.separator();
            let label = ui.label("Ratings ≥").id;
            let mut min_votes = self.draft.votes.min.unwrap_or(0);
            let votes = ui
                .add(
                    egui::DragValue::new(&mut min_votes)
                        .range(0..=10_000_000)
                        .speed(5.0),
                )
                .labelled_by(label);
            if votes.changed() {
                self.draft.votes.min = (min_votes > 0).then_some(min_votes);
                changed = true;
            }
        });

        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 4.0;
            ui.label("Genres");
            for genre in KNOWN_GENRES {
                let on = self.draft.genres.any_of.iter().any(|g| g == genre);
                let count = facets.and_then(|f| {
                    f.genres
                        .iter()
                        .find(|(g, _)| g == genre)
                        .map(|(_, n)| (f, *n))
                });
                let figure = count.map(|(f, n)| {
                    egui::WidgetText::from(egui::RichText::new(f.short_figure(n)).small().weak())
                });
                keep_on_one_row(ui, genre, figure.clone());
                let chip = ui.selectable_label(on, *genre).on_hover_text(match count {
                    Some((f, n)) => facet_hover(f, n),
                    None => "any of the selected genres".to_owned(),
                });
                // The figure beside the chip, not in it: the chip keeps its name whatever the
                // count, and an estimate shows its ≈ wherever it is printed.
                if let (Some((f, n)), Some(figure)) = (count, figure) {
                    ui.add(egui::Label::new(figure).wrap_mode(egui::TextWrapMode::Extend))
                        .on_hover_text(facet_hover(f, n));
                }
                if chip.clicked() {
                    if on {
                        self.draft.genres.any_of.retain(|g| g != genre);
                    } else {
                        self.draft.genres.any_of.push((*genre).to_owned());
                    }
                    changed = true;
                }
            }
        });

        ui.horizontal_wrapped(|ui| {
            let label = ui.label("Filter").id;
            let help = ui
                .small_button("?")
                .on_hover_text("The filter language, with examples");
            if ui
                .small_button("Copy")
                .on_hover_text(
                    "Copy the filter as text: paste it into the window, `--filter`, or a message",
                )
                .clicked()
            {
                commands.push(Command::Copy(self.draft.to_text()));
            }
            // Beside the filter's text, whose field takes what is left of the row: at the end of
            // the controls above it took a row of its own in an 800-point window.
            if ui
                .add_enabled(self.draft.has_conditions(), egui::Button::new("Clear"))
                .on_hover_text(
                    "Clear every condition (keeps the sort); Esc does the same, Alt+← undoes it",
                )
                .clicked()
            {
                commands.push(Command::Filter(FilterChange::ClearConditions));
            }
            egui::Popup::from_toggle_button_response(&help).show(help_ui);
            let text_id = egui::Id::unique(TEXT_ID);
            let focused = ui.memory(|m| m.has_focus(text_id));
            let completion = (focused || self.completing_click(ui))
                .then(|| completion::complete(&self.text, KNOWN_GENRES, &self.tags))
                .flatten();
            // Tab takes the first suggestion; it must not reach the field (it would move focus).
            let mut accept = completion
                .as_ref()
                .filter(|_| focused && ui.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Tab)))
                .map(|c| c.candidates[0].clone());
            let mut edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.text)
                        .id(text_id)
                        .font(egui::TextStyle::Monospace)
                        .hint_text("genre:Drama year:1990..1999 rating:>=4 sort:-rating")
                        // The rest of the row: infinity would push it onto a line of its own.
                        .desired_width((ui.available_size_before_wrap().x - 8.0).max(240.0)),
                )
                .labelled_by(label);
            self.completing = completion.is_some();
            if let Some(c) = &completion {
                ui.end_row();
                ui.weak("Tab:");
                for candidate in &c.candidates {
                    if ui.small_button(candidate.as_str()).clicked() {
                        accept = Some(candidate.clone());
                    }
                }
            }
            if let (Some(candidate), Some(c)) = (accept, &completion) {
                self.text = completion::apply(&self.text, c, &candidate);
                // Back in the field, with the cursor after what was completed.
                let mut state = egui::TextEdit::load_state(ui.ctx(), text_id).unwrap_or_default();
                let end = egui::text::CCursor::new(self.text.chars().count());
                state
                    .cursor
                    .set_char_range(Some(egui::text::CCursorRange::one(end)));
                state.store(ui.ctx(), text_id);
                ui.memory_mut(|m| m.request_focus(text_id));
                edit.mark_changed();
            }
            if let Some(tag) = completion::tag_being_typed(&self.text)
                && !tag.is_empty()
                && self.tags_for.as_deref() != Some(tag)
            {
                self.tags_for = Some(tag.to_owned());
                commands.push(Command::SuggestTags(tag.to_owned()));
            }
            let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            if edit.changed() || entered {
                match Filter::parse(&self.text) {
                    Ok(parsed) => {
                        self.text_error = None;
                        let text = std::mem::take(&mut self.text);
                        self.show(&parsed);
                        // Keep what the user is typing; only the widgets follow.
                        self.text = text;
                        commands.push(Command::Filter(if entered {
                            FilterChange::Apply(parsed)
                        } else {
                            FilterChange::Edit(parsed)
                        }));
                    }
                    Err(err) => {
                        self.text_error = Some(err.to_string());
                        commands.push(Command::Filter(FilterChange::Invalid));
                    }
                }
            }
            if edit.lost_focus() {
                // Leaving the field tidies it into the canonical spelling.
                if self.text_error.is_none() {
                    self.text = self.draft.to_text();
                }
            }
        });
        if let Some(error) = &self.text_error {
            ui.label(
                RichText::new(format!(
                    "{error} — the table shows the last valid filter until the text parses"
                ))
                .color(ui.visuals().error_fg_color),
            );
        }

        if changed {
            self.draft.normalize();
            if !ui.memory(|m| m.has_focus(egui::Id::unique(TEXT_ID))) {
                self.text = self.draft.to_text();
                self.text_error = None;
            }
            commands.push(Command::Filter(FilterChange::Edit(self.draft.clone())));
        }
    }
}

/// A year box: empty = open end; anything else must be a plausible year.
fn year_field(
    ui: &mut Ui,
    text: &mut String,
    value: &mut Option<i16>,
    hint: &str,
    label: egui::Id,
) -> bool {
    let parsed = text.trim().parse::<i16>().ok();
    let valid =
        text.trim().is_empty() || parsed.is_some_and(|y| (MIN_YEAR..=MAX_YEAR).contains(&y));
    let mut edit = egui::TextEdit::singleline(text)
        .hint_text(hint)
        .desired_width(44.0);
    if !valid {
        edit = edit.text_color(Color32::from_rgb(220, 80, 60));
    }
    let response = ui.add(edit).labelled_by(label);
    if !response.changed() {
        return false;
    }
    let parsed = text.trim().parse::<i16>().ok();
    let new = match parsed {
        Some(y) if (MIN_YEAR..=MAX_YEAR).contains(&y) => Some(y),
        Some(_) => return false,
        None if text.trim().is_empty() => None,
        None => return false,
    };
    if new == *value {
        return false;
    }
    *value = new;
    true
}

/// The "?" popup: every token with an example.
fn help_ui(ui: &mut Ui) {
    ui.label(RichText::new("Filter language").strong());
    ui.label("Tokens combine with spaces; Tab completes names, genres, sort columns and tags.");
    egui::Grid::new("filter_help")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (example, meaning) in TOKEN_HELP {
                ui.monospace(*example);
                ui.label(*meaning);
                ui.end_row();
            }
        });
    ui.label("Enter applies at once; text that does not parse is never applied.");
}

/// Starts the next row of a wrapping layout when the chip `text` and its `figure` would not both
/// fit on this one: the layout wraps each widget on its own, and a figure wrapped to the start
/// of the next row reads as belonging to the chip there.
fn keep_on_one_row(ui: &mut egui::Ui, text: &str, figure: Option<egui::WidgetText>) {
    let galley_width = |text: egui::WidgetText, style: egui::TextStyle| {
        text.into_galley(ui, Some(egui::TextWrapMode::Extend), f32::INFINITY, style)
            .size()
            .x
    };
    let spacing = ui.spacing();
    let mut width =
        galley_width(text.into(), egui::TextStyle::Button) + 2.0 * spacing.button_padding.x;
    if let Some(figure) = figure {
        width += spacing.item_spacing.x + galley_width(figure, egui::TextStyle::Body);
    }
    // `available_width` is the whole row's in a wrapping layout; what is left of this row is
    // `available_size_before_wrap`.
    let left = ui.available_size_before_wrap().x;
    let row_started = left < ui.max_rect().width() - 0.5;
    if row_started && left < width {
        ui.end_row();
    }
}

/// A genre's figure in full, and where it comes from.
fn facet_hover(facets: &Facets, n: u64) -> String {
    format!(
        "{} {} under the current filter ({})",
        facets.figure(n),
        crate::plural::noun(n, "movie", "movies"),
        facets.provenance()
    )
}
