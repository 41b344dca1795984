//! The detail pane: everything about the selected movie — title, year, genres, the rating
//! histogram, average and count, top tags, recent ratings and links to IMDb and TMDB.
//!
//! A tag chip is a button: clicking it narrows the current filter to that tag
//! ([`FilterChange::AddTag`]), so "what else is tagged like this" is one click away.

use egui::{RichText, Ui};
use egui_plot::{AxisHints, Bar, BarChart, GridMark, Plot};

use crate::browse::FilterChange;
use crate::plural;
use crate::ui::command::Command;
use crate::worker::DetailBundle;

/// What the pane shows.
#[derive(Debug, Default)]
pub enum DetailState {
    /// Nothing selected.
    #[default]
    Nothing,
    /// Asked for this movie; the answer is on its way.
    Loading(i32),
    /// The answer.
    Loaded(Box<DetailBundle>),
    /// The movie no longer exists.
    Missing(i32),
    /// The request failed.
    Failed(String),
}

/// The detail pane view.
#[derive(Debug, Default)]
pub struct DetailPane;

impl DetailPane {
    /// Draws the pane; a click on a tag chip pushes a filter command.
    pub fn ui(&mut self, ui: &mut Ui, state: &DetailState, commands: &mut Vec<Command>) {
        match state {
            DetailState::Nothing => {
                ui.weak("Select a movie to see its details.");
            }
            DetailState::Loading(id) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("Loading movie {id}…"));
                });
            }
            DetailState::Missing(id) => {
                ui.label(format!("Movie {id} is no longer in the database."));
            }
            DetailState::Failed(message) => {
                ui.colored_label(ui.visuals().error_fg_color, message.as_str());
            }
            DetailState::Loaded(bundle) => {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| details_ui(ui, bundle, commands));
            }
        }
    }
}

fn details_ui(ui: &mut Ui, bundle: &DetailBundle, commands: &mut Vec<Command>) {
    let movie = &bundle.details.movie;
    ui.heading(movie.title.as_str());
    ui.horizontal_wrapped(|ui| {
        if let Some(year) = movie.year {
            ui.label(RichText::new(year.to_string()).strong());
        }
        ui.weak(format!("id {}", movie.id));
    });
    if movie.genres.is_empty() {
        ui.weak("(no genres listed)");
    } else {
        ui.label(movie.genres.join(" · "));
    }
    ui.add_space(6.0);
    match movie.rating_avg {
        Some(avg) => ui.label(
            RichText::new(format!(
                "{avg:.2} average from {}",
                plural::count(movie.rating_count.max(0) as u64, "rating", "ratings")
            ))
            .size(15.0),
        ),
        None => ui.weak("No ratings yet"),
    };
    ui.horizontal(|ui| {
        if let Some(url) = bundle.details.imdb_url() {
            ui.hyperlink_to("IMDb", url);
        }
        if let Some(url) = bundle.details.tmdb_url() {
            ui.hyperlink_to("TMDB", url);
        }
    });

    ui.add_space(8.0);
    ui.label(RichText::new("Rating histogram").strong());
    histogram_ui(ui, movie.id, &bundle.histogram);

    ui.add_space(8.0);
    ui.label(RichText::new("Top tags").strong());
    if bundle.top_tags.is_empty() {
        ui.weak("No tags");
    } else {
        ui.horizontal_wrapped(|ui| {
            for (tag, count) in &bundle.top_tags {
                let chip = ui.button(format!("{tag} ({count})")).on_hover_text(format!(
                    "Show movies tagged \"{tag}\" ({} on this movie)",
                    plural::count(*count, "use", "uses")
                ));
                if chip.clicked() {
                    commands.push(Command::Filter(FilterChange::AddTag(tag.clone())));
                }
            }
        });
    }

    if !bundle.recent.is_empty() {
        ui.add_space(8.0);
        ui.label(RichText::new("Recent ratings").strong());
        egui::Grid::new("recent_ratings")
            .num_columns(3)
            .striped(true)
            .show(ui, |ui| {
                for rating in &bundle.recent {
                    ui.label(format!("user {}", rating.user_id));
                    ui.label(format!("{:.1}", rating.rating));
                    ui.weak(format_date(rating.rated_at_secs));
                    ui.end_row();
                }
            });
    }
}

/// Ratings per half star as bars: the x axis is labelled in stars (0.5 … 5), the y axis in
/// whole counts. A movie nobody rated gets a sentence, not an empty plot with a −2…2 axis.
fn histogram_ui(ui: &mut Ui, movie_id: i32, histogram: &[(f32, u64)]) {
    if histogram.iter().all(|(_, n)| *n == 0) {
        ui.weak("no ratings yet");
        return;
    }
    // Every half star gets a bar, zero or not, so histograms of different movies line up.
    let fill = ui.visuals().hyperlink_color;
    let bars: Vec<Bar> = (1..=10)
        .map(|half_stars| {
            let stars = f64::from(half_stars) / 2.0;
            let count = histogram
                .iter()
                .find(|(s, _)| (f64::from(*s) - stars).abs() < 0.01)
                .map_or(0, |(_, n)| *n);
            Bar::new(stars, count as f64)
                .width(0.4)
                .fill(fill)
                .name(format!(
                    "{stars} {}",
                    if half_stars == 2 { "star" } else { "stars" }
                ))
        })
        .collect();
    let most = histogram.iter().map(|(_, n)| *n).max().unwrap_or(1);
    let chart = BarChart::new("ratings", bars).color(fill);
    // Ten labels share the pane's width: allow them closer than egui_plot's default 60 pt.
    let x_axis = AxisHints::new_x()
        .label("stars")
        .label_spacing(14.0..=20.0)
        .formatter(|mark, _range| star_label(mark.value));
    let y_axis = AxisHints::new_y()
        .label("ratings")
        .formatter(|mark, _range| count_label(mark.value));
    Plot::new(("histogram", movie_id))
        .height(160.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_grid([false, true])
        .custom_x_axes(vec![x_axis])
        .custom_y_axes(vec![y_axis])
        .x_grid_spacer(|_input| {
            (1..=10)
                .map(|half| GridMark {
                    value: f64::from(half) / 2.0,
                    step_size: 0.5,
                })
                .collect()
        })
        .y_grid_spacer(move |input| count_marks(input.bounds, most))
        .include_x(0.25)
        .include_x(5.25)
        .include_y(0.0)
        .include_y(most as f64 * 1.1)
        .show(ui, |plot| plot.bar_chart(chart));
}

/// `0.5`, `1`, … `5` for the half-star marks; nothing between them.
fn star_label(value: f64) -> String {
    let halves = (value * 2.0).round();
    if (value * 2.0 - halves).abs() > 1e-6 || !(1.0..=10.0).contains(&halves) {
        return String::new();
    }
    if halves % 2.0 == 0.0 {
        format!("{}", halves / 2.0)
    } else {
        format!("{:.1}", halves / 2.0)
    }
}

/// Whole, non-negative counts only: no `-2` or `0.5` on a count axis.
fn count_label(value: f64) -> String {
    if value < 0.0 || (value - value.round()).abs() > 1e-6 {
        String::new()
    } else {
        crate::plural::thousands(value.round() as u64)
    }
}

/// About four whole-number marks from 0 up to the tallest bar, at a 1-2-5 step.
fn count_marks(bounds: (f64, f64), most: u64) -> Vec<GridMark> {
    let top = bounds.1.max(most as f64).max(1.0);
    let rough = top / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor()).max(1.0);
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    let mut marks = Vec::new();
    let mut value = 0.0;
    while value <= top {
        marks.push(GridMark {
            value,
            step_size: step,
        });
        value += step;
    }
    marks
}

/// `2015-03-31` from Unix seconds (civil-from-days, so no date crate is needed).
fn format_date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::{count_label, count_marks, format_date, star_label};

    #[test]
    fn the_star_axis_reads_half_stars_and_the_count_axis_whole_numbers() {
        assert_eq!(star_label(0.5), "0.5");
        assert_eq!(star_label(1.0), "1");
        assert_eq!(star_label(4.5), "4.5");
        assert_eq!(star_label(5.0), "5");
        assert_eq!(star_label(0.0), "");
        assert_eq!(star_label(5.5), "");
        assert_eq!(star_label(0.75), "");
        assert_eq!(count_label(-2.0), "");
        assert_eq!(count_label(0.5), "");
        assert_eq!(count_label(1_200.0), "1,200");
        let marks = count_marks((0.0, 1.0), 1);
        assert!(
            marks
                .iter()
                .all(|m| m.value >= 0.0 && m.value.fract() == 0.0)
        );
        let marks = count_marks((0.0, 3_300.0), 3_000);
        assert!(marks.len() >= 3 && marks.len() <= 6, "{}", marks.len());
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(1_427_760_000), "2015-03-31");
    }
}
