/* sim_ui.c - a grabbed-screen frame around the ultrasound image: scanner text,
 * a depth scale with ticks every 5 mm and labels every cm, a focus marker, a
 * grey bar and an orientation mark, as a video grabber sees a scanner screen. */
#include "sim_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define UI_LEFT 80
#define UI_RIGHT 64
#define UI_TOP 56
#define UI_BOTTOM 40
#define UI_TEXT 200
#define UI_DIM 110

/* 5x7 glyphs, 7 rows of 5 pixels, '1' = lit. */
static const struct { char c; const char *rows; } font[] = {
    {'0', "01110100011001110101110011000101110"}, {'1', "00100011000010000100001000010001110"},
    {'2', "01110100010000100010001000100011111"}, {'3', "11111000100010000010000011000101110"},
    {'4', "00010001100101010010111110001000010"}, {'5', "11111100001111000001000011000101110"},
    {'6', "00110010001000011110100011000101110"}, {'7', "11111000010001000100010000100001000"},
    {'8', "01110100011000101110100011000101110"}, {'9', "01110100011000101111000010001001100"},
    {'A', "01110100011000111111100011000110001"}, {'B', "11110100011000111110100011000111110"},
    {'C', "01110100011000010000100001000101110"}, {'D', "11100100101000110001100011001011100"},
    {'E', "11111100001000011110100001000011111"}, {'F', "11111100001000011110100001000010000"},
    {'G', "01110100011000010111100011000101111"}, {'H', "10001100011000111111100011000110001"},
    {'I', "01110001000010000100001000010001110"}, {'J', "00111000100001000010000101001001100"},
    {'K', "10001100101010011000101001001010001"}, {'L', "10000100001000010000100001000011111"},
    {'M', "10001110111010110101100011000110001"}, {'N', "10001100011100110101100111000110001"},
    {'O', "01110100011000110001100011000101110"}, {'P', "11110100011000111110100001000010000"},
    {'Q', "01110100011000110001101011001001101"}, {'R', "11110100011000111110101001001010001"},
    {'S', "01111100001000001110000010000111110"}, {'T', "11111001000010000100001000010000100"},
    {'U', "10001100011000110001100011000101110"}, {'V', "10001100011000110001100010101000100"},
    {'W', "10001100011000110101101011010101010"}, {'X', "10001100010101000100010101000110001"},
    {'Y', "10001100011000101010001000010000100"}, {'Z', "11111000010001000100010001000011111"},
    {'.', "00000000000000000000000000110001100"}, {':', "00000011000110000000011000110000000"},
    {'-', "00000000000000011111000000000000000"}, {'/', "00000000010001000100010001000000000"},
    {'%', "11000110010001000100010001001100011"}, {'+', "00000001000010011111001000010000000"},
};

static const char *glyph(char c) {
    for (size_t i = 0; i < sizeof font / sizeof font[0]; i++) {
        if (font[i].c == c) return font[i].rows;
    }
    return NULL;
}

static void put_px(usg_image *f, int x, int y, uint8_t v) {
    if (x >= 0 && y >= 0 && x < f->width && y < f->height) usg_image_row(f, y)[x] = v;
}

static void text(usg_image *f, int x, int y, int scale, uint8_t v, const char *s) {
    for (; *s; s++, x += 6 * scale) {
        const char *g = glyph(*s);
        if (!g) continue;
        for (int r = 0; r < 7; r++) {
            for (int c = 0; c < 5; c++) {
                if (g[r * 5 + c] != '1') continue;
                for (int dy = 0; dy < scale; dy++) {
                    for (int dx = 0; dx < scale; dx++) put_px(f, x + c * scale + dx, y + r * scale + dy, v);
                }
            }
        }
    }
}

static void hline(usg_image *f, int x0, int x1, int y, uint8_t v) {
    for (int x = x0; x <= x1; x++) put_px(f, x, y, v);
}

void sim_ui_layout_for(int w, int h, sim_ui_layout *L) {
    L->frame_w = w + UI_LEFT + UI_RIGHT;
    L->frame_h = h + UI_TOP + UI_BOTTOM;
    L->clip_x = UI_LEFT;
    L->clip_y = UI_TOP;
}

static void depth_scale(usg_image *f, const sim_ui_layout *L, const sim_geom *g) {
    double face = sim_geom_face_y(g);
    int x0 = L->clip_x + g->w + 6;
    double max_mm = (g->h - 1 - face) * g->sp;
    for (int mm = 0; mm <= (int)max_mm; mm += 5) {
        int y = L->clip_y + (int)lround(face + mm / g->sp);
        int big = mm % 10 == 0;
        hline(f, x0, x0 + (big ? 9 : 4), y, UI_TEXT);
        if (big) {
            char buf[16];
            snprintf(buf, sizeof buf, "%d", mm / 10);
            text(f, x0 + 14, y - 3, 1, UI_TEXT, buf);
        }
    }
    text(f, x0 + 14, L->clip_y + g->h + 8, 1, UI_DIM, "CM");
}

static void grey_bar(usg_image *f, const sim_ui_layout *L, const sim_geom *g) {
    int x0 = 16, y0 = L->clip_y + 20, len = g->h / 2;
    for (int i = 0; i < len; i++) {
        uint8_t v = (uint8_t)(255 - 255 * i / (len - 1));
        hline(f, x0, x0 + 9, y0 + i, v);
    }
}

void sim_ui_paint(usg_image *frame, const sim_ui_layout *L, const sim_geom *g, const usg_sim_params *p,
                  int index) {
    char buf[64];
    int curv = g->kind == USG_GEOM_CURVILINEAR;
    double f = p->freq_mhz > 0 ? p->freq_mhz : curv ? 3.5 : 7.5;
    text(frame, 8, 6, 2, UI_TEXT, "USGUIDE SIM");
    snprintf(buf, sizeof buf, "SIJ %s %.1fMHZ", curv ? "C5-2" : "L12-5", f);
    text(frame, 8, 28, 1, UI_TEXT, buf);
    snprintf(buf, sizeof buf, "GN %+.0fDB DR %.0f", p->gain_db, p->dynamic_range_db);
    text(frame, 8, 40, 1, UI_DIM, buf);
    double t = index / p->fps;
    int minutes = (int)(t / 60.0);
    snprintf(buf, sizeof buf, "%02d:%05.2f", minutes, t - 60.0 * minutes);
    text(frame, L->frame_w - 6 * 8 - 8, 8, 1, UI_TEXT, buf);
    snprintf(buf, sizeof buf, "MI 0.9 TIS 0.4");
    text(frame, L->frame_w - 6 * 14 - 8, 20, 1, UI_DIM, buf);
    snprintf(buf, sizeof buf, "D %.1fCM", (g->h - 1 - sim_geom_face_y(g)) * g->sp / 10.0);
    text(frame, 8, L->frame_h - 16, 1, UI_TEXT, buf);
    snprintf(buf, sizeof buf, "FR %.0f", p->fps);
    text(frame, L->frame_w - 6 * 6 - 8, L->frame_h - 16, 1, UI_DIM, buf);
    depth_scale(frame, L, g);
    grey_bar(frame, L, g);
    /* orientation mark beside the image's top-left corner */
    for (int dy = 0; dy < 6; dy++) hline(frame, L->clip_x - 12, L->clip_x - 7, L->clip_y + 2 + dy, 230);
    /* focus marker at two thirds of the depth */
    int fy = L->clip_y + (int)(sim_geom_face_y(g) + 0.66 * (g->h - 1 - sim_geom_face_y(g)));
    for (int i = 0; i < 5; i++) {
        for (int dy = -i; dy <= i; dy++) put_px(frame, L->clip_x + g->w + 2 + (4 - i), fy + dy, UI_TEXT);
    }
}
