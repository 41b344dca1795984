//! The detail pane: everything about the selected movie — title, year, genres, the rating
//! histogram, average and count, top tags, recent ratings and links to IMDb and TMDB.

use egui::{RichText, Ui};
use egui_plot::{Bar, BarChart, Plot};

use crate::repo::movies::thousands;
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
    /// Draws the pane.
    pub fn ui(&mut self, ui: &mut Ui, state: &DetailState) {
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
                    .show(ui, |ui| details_ui(ui, bundle));
            }
        }
    }
}

fn details_ui(ui: &mut Ui, bundle: &DetailBundle) {
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
                "{avg:.2} average from {} ratings",
                thousands(movie.rating_count.max(0) as u64)
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
    // Every half star gets a bar, zero or not, so histograms of different movies line up.
    let fill = ui.visuals().hyperlink_color;
    let bars: Vec<Bar> = (1..=10)
        .map(|half_stars| {
            let stars = f64::from(half_stars) / 2.0;
            let count = bundle
                .histogram
                .iter()
                .find(|(s, _)| (f64::from(*s) - stars).abs() < 0.01)
                .map_or(0, |(_, n)| *n);
            Bar::new(stars, count as f64)
                .width(0.4)
                .fill(fill)
                .name(format!("{stars} stars"))
        })
        .collect();
    let chart = BarChart::new("ratings", bars).color(fill);
    Plot::new(("histogram", movie.id))
        .height(150.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_grid([false, true])
        .include_x(0.25)
        .include_x(5.25)
        .include_y(0.0)
        .show(ui, |plot| plot.bar_chart(chart));

    ui.add_space(8.0);
    ui.label(RichText::new("Top tags").strong());
    if bundle.top_tags.is_empty() {
        ui.weak("No tags");
    } else {
        ui.horizontal_wrapped(|ui| {
            for (tag, count) in &bundle.top_tags {
                ui.label(
                    RichText::new(format!("{tag} ({count})"))
                        .background_color(ui.visuals().widgets.inactive.weak_bg_fill),
                );
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
    use super::format_date;

    #[test]
    fn dates_are_civil() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(1_427_760_000), "2015-03-31");
    }
}
