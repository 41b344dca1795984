//! Opens the native window: viewport, renderer and icon, then hands over to [`super::MarqueeApp`].

use crate::config::{Provenance, Settings};

/// The window's app id (Wayland) and WM_CLASS (X11); the desktop entry is `marquee.desktop`.
pub const APP_ID: &str = "marquee";

/// The app icon, from `assets/icon.png`.
pub fn icon() -> egui::IconData {
    eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png")).unwrap_or_default()
}

/// Runs the window until it is closed; `provenance` says where each setting came from.
pub fn run(settings: Settings, provenance: Provenance) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Marquee")
            // Wayland app id / X11 WM_CLASS: matches `marquee.desktop`, so docks group the
            // window under the installed launcher and show its icon.
            .with_app_id(APP_ID)
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 480.0])
            .with_icon(icon()),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(
        "Marquee",
        options,
        Box::new(move |cc| {
            let mut app = super::MarqueeApp::new(cc, settings);
            app.set_provenance(provenance);
            Ok(Box::new(app))
        }),
    )
    .map_err(|err| {
        anyhow::anyhow!(
            "could not open the window: {err}\nWithout a display, the command line reaches the same data: \
             `marquee movies --filter …`, `marquee export …`, `marquee pool-stats` (see `marquee --help`)"
        )
    })
}
