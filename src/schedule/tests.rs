use chrono::Datelike;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::America::New_York;
use chrono_tz::Australia::Lord_Howe;
use chrono_tz::Europe::Berlin;
use chrono_tz::Tz;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap()
}

fn wall(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
}

fn ticks(expr: &str, tz: Tz, after: DateTime<Utc>, n: usize) -> Vec<Tick> {
    Schedule::parse(expr)
        .unwrap()
        .ticks_after(tz, after)
        .take(n)
        .collect()
}

fn instants(expr: &str, tz: Tz, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    ticks(expr, tz, after, n)
        .into_iter()
        .map(|t| t.at)
        .collect()
}

fn weekdays(expr: &str, n: usize) -> Vec<Weekday> {
    ticks(expr, Tz::UTC, utc(2026, 1, 1, 0, 0), n)
        .into_iter()
        .map(|t| t.local.weekday())
        .collect()
}

fn error(expr: &str) -> String {
    Schedule::parse(expr).unwrap_err().to_string()
}

// ---- parsing -------------------------------------------------------------

#[test]
fn five_fields_fire_at_minute_zero_seconds() {
    assert_eq!(
        instants("30 4 * * *", Tz::UTC, utc(2026, 1, 1, 0, 0), 2),
        [utc(2026, 1, 1, 4, 30), utc(2026, 1, 2, 4, 30)]
    );
}

#[test]
fn six_fields_put_seconds_first() {
    let got = ticks("15 */20 * * * *", Tz::UTC, utc(2026, 1, 1, 0, 0), 3);
    let got: Vec<_> = got.iter().map(|t| (t.at.minute(), t.at.second())).collect();
    assert_eq!(got, [(0, 15), (20, 15), (40, 15)]);
}

#[test]
fn ticks_are_strictly_after_the_start() {
    assert_eq!(
        instants("0 * * * *", Tz::UTC, utc(2026, 1, 1, 3, 0), 1),
        [utc(2026, 1, 1, 4, 0)]
    );
}

#[test]
fn lists_ranges_and_steps_expand_as_in_crontab() {
    let minutes = |expr: &str| -> Vec<u32> {
        ticks(
            expr,
            Tz::UTC,
            utc(2026, 1, 1, 0, 0) - chrono::TimeDelta::seconds(1),
            8,
        )
        .iter()
        .take_while(|t| t.at < utc(2026, 1, 1, 1, 0))
        .map(|t| t.at.minute())
        .collect()
    };
    assert_eq!(minutes("1,5,7 0 * * *"), [1, 5, 7]);
    assert_eq!(minutes("10-13 0 * * *"), [10, 11, 12, 13]);
    assert_eq!(minutes("*/20 0 * * *"), [0, 20, 40]);
    assert_eq!(minutes("10-40/15 0 * * *"), [10, 25, 40]);
    assert_eq!(minutes("50/3 0 * * *"), [50, 53, 56, 59]);
    assert_eq!(minutes("1-2,58/1 0 * * *"), [1, 2, 58, 59]);
}

#[test]
fn day_of_week_zero_and_seven_are_both_sunday() {
    assert_eq!(weekdays("0 0 * * 0", 3), [Weekday::Sun; 3]);
    assert_eq!(weekdays("0 0 * * 7", 3), [Weekday::Sun; 3]);
    assert_eq!(
        instants("0 0 * * 0", Tz::UTC, utc(2026, 1, 1, 0, 0), 5),
        instants("0 0 * * 7", Tz::UTC, utc(2026, 1, 1, 0, 0), 5)
    );
}

#[test]
fn one_to_five_is_monday_to_friday() {
    use Weekday::*;
    assert_eq!(
        weekdays("0 0 * * 1-5", 7),
        [Fri, Mon, Tue, Wed, Thu, Fri, Mon]
    );
}

#[test]
fn day_of_week_range_may_end_at_seven() {
    use Weekday::*;
    assert_eq!(weekdays("0 0 * * 5-7", 4), [Fri, Sat, Sun, Fri]);
    assert_eq!(weekdays("0 0 * * sat-sun", 3), [Sat, Sun, Sat]);
}

#[test]
fn step_over_day_of_week_is_sun_tue_thu_sat() {
    use Weekday::*;
    // 2026-01-01 is a Thursday and the start itself is excluded.
    assert_eq!(weekdays("0 0 * * */2", 5), [Sat, Sun, Tue, Thu, Sat]);
}

#[test]
fn month_and_day_names_are_case_insensitive() {
    let got = ticks("0 0 * jan,Jul Mon-fri", Tz::UTC, utc(2026, 1, 30, 0, 0), 3);
    let got: Vec<_> = got
        .iter()
        .map(|t| (t.at.month(), t.at.day(), t.at.weekday()))
        .collect();
    assert_eq!(
        got,
        [
            (7, 1, Weekday::Wed),
            (7, 2, Weekday::Thu),
            (7, 3, Weekday::Fri)
        ]
    );
}

#[test]
fn macros_have_their_standard_meanings() {
    let start = utc(2026, 5, 5, 10, 30); // a Tuesday
    let first = |expr: &str| instants(expr, Tz::UTC, start, 1)[0];
    assert_eq!(first("@yearly"), utc(2027, 1, 1, 0, 0));
    assert_eq!(first("@annually"), utc(2027, 1, 1, 0, 0));
    assert_eq!(first("@monthly"), utc(2026, 6, 1, 0, 0));
    assert_eq!(first("@weekly"), utc(2026, 5, 10, 0, 0));
    assert_eq!(first("@daily"), utc(2026, 5, 6, 0, 0));
    assert_eq!(first("@midnight"), utc(2026, 5, 6, 0, 0));
    assert_eq!(first("@hourly"), utc(2026, 5, 5, 11, 0));
    assert_eq!(first("  @DAILY "), utc(2026, 5, 6, 0, 0));
}

#[test]
fn day_of_month_and_day_of_week_are_ored_when_both_restricted() {
    // January 2026: Fridays are 2, 9, 16, 23, 30; the 13th is a Tuesday.
    // February 13th 2026 is a Friday and fires once.
    let days: Vec<_> = ticks("0 0 13 * 5", Tz::UTC, utc(2026, 1, 1, 0, 0), 10)
        .iter()
        .map(|t| (t.at.month(), t.at.day()))
        .collect();
    assert_eq!(
        days,
        [
            (1, 2),
            (1, 9),
            (1, 13),
            (1, 16),
            (1, 23),
            (1, 30),
            (2, 6),
            (2, 13),
            (2, 20),
            (2, 27)
        ]
    );
}

#[test]
fn day_fields_are_anded_when_one_is_a_bare_star() {
    let days: Vec<_> = ticks("0 0 13 * *", Tz::UTC, utc(2026, 1, 1, 0, 0), 2)
        .iter()
        .map(|t| (t.at.month(), t.at.day()))
        .collect();
    assert_eq!(days, [(1, 13), (2, 13)]);
    assert_eq!(weekdays("0 0 * * 5", 2), [Weekday::Fri; 2]);
}

#[test]
fn leap_day_schedule_fires_in_leap_years_only() {
    assert_eq!(
        instants("0 0 29 2 *", Tz::UTC, utc(2026, 1, 1, 0, 0), 2),
        [utc(2028, 2, 29, 0, 0), utc(2032, 2, 29, 0, 0)]
    );
}

#[test]
fn source_is_kept_as_written() {
    let schedule = Schedule::parse(" 0 9 * * MON ").unwrap();
    assert_eq!(schedule.source(), " 0 9 * * MON ");
    let copy = schedule.clone();
    assert_eq!(copy.source(), schedule.source());
    assert!(format!("{schedule:?}").contains("Schedule"));
}

// ---- error messages ------------------------------------------------------

#[test]
fn wrong_field_count_names_the_expected_layout() {
    assert_eq!(
        error("* * * *"),
        "expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; found 4"
    );
    assert_eq!(
        Schedule::parse("0 0 0 * * * 2026").unwrap_err(),
        ScheduleError::FieldCount { found: 7 }
    );
    assert_eq!(
        Schedule::parse("*").unwrap_err(),
        ScheduleError::FieldCount { found: 1 }
    );
}

#[test]
fn empty_schedule_is_reported_as_empty() {
    assert_eq!(Schedule::parse("  \t").unwrap_err(), ScheduleError::Empty);
    assert!(error("").starts_with("empty schedule; expected 5 fields"));
}

#[test]
fn unknown_macro_lists_the_valid_ones() {
    assert_eq!(
        error("@fortnightly"),
        "unknown macro \"@fortnightly\"; expected one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
    );
}

#[test]
fn unknown_macro_suggests_a_close_one() {
    assert_eq!(
        Schedule::parse("@dayly").unwrap_err(),
        ScheduleError::UnknownMacro {
            written: "@dayly".into(),
            suggestion: Some("@daily".into())
        }
    );
    assert!(error("@weekley").contains("(did you mean @weekly?)"));
}

#[test]
fn reboot_is_refused_with_a_reason() {
    assert_eq!(
        Schedule::parse("@reboot").unwrap_err(),
        ScheduleError::Reboot
    );
    assert!(error("@reboot").contains("not supported"));
}

#[test]
fn macro_with_extra_fields_is_refused() {
    assert_eq!(
        error("@daily 5"),
        "macro @daily takes no further fields; found \"@daily 5\""
    );
}

#[test]
fn out_of_range_values_name_field_and_range() {
    assert_eq!(error("61 * * * *"), "minute: 61 is out of range 0-59");
    assert_eq!(error("0 24 * * *"), "hour: 24 is out of range 0-23");
    assert_eq!(error("0 0 0 * *"), "day-of-month: 0 is out of range 1-31");
    assert_eq!(error("0 0 * 13 *"), "month: 13 is out of range 1-12");
    assert_eq!(error("0 0 * * 8"), "day-of-week: 8 is out of range 0-7");
    assert_eq!(error("60 0 0 * * *"), "second: 60 is out of range 0-59");
    assert_eq!(
        error("99999999999999999999 * * * *"),
        "minute: 99999999999999999999 is out of range 0-59"
    );
}

#[test]
fn day_of_week_messages_use_crontab_numbering() {
    for bad in ["8", "0-8", "*/9", "FRX", "5#3", "L"] {
        let message = error(&format!("0 0 * * {bad}"));
        assert!(message.starts_with("day-of-week: "), "{message}");
        assert!(!message.contains("1-7"), "{message}");
    }
}

#[test]
fn bad_steps_are_explained() {
    assert_eq!(error("*/0 * * * *"), "minute: step 0 must be at least 1");
    assert_eq!(
        error("*/90 * * * *"),
        "minute: step 90 is too large; at most 59 fits in 0-59"
    );
    assert_eq!(
        error("0 0 * * */8"),
        "day-of-week: step 8 is too large; at most 7 fits in 0-7"
    );
    assert_eq!(
        error("0 0 * * */99999999999"),
        "day-of-week: step 99999999999 is too large; at most 7 fits in 0-7"
    );
}

#[test]
fn names_in_numeric_fields_are_not_numbers() {
    assert_eq!(
        error("abc * * * *"),
        "minute: \"abc\" is not a number; expected 0-59"
    );
}

#[test]
fn unknown_names_suggest_the_three_letter_form() {
    assert_eq!(
        error("0 0 * * MONDAY"),
        "day-of-week: unknown name \"MONDAY\" (did you mean MON?); expected SUN-SAT or 0-7"
    );
    assert_eq!(
        error("0 0 * Sept *"),
        "month: unknown name \"Sept\" (did you mean SEP?); expected JAN-DEC or 1-12"
    );
    assert_eq!(
        error("0 0 * * FRY"),
        "day-of-week: unknown name \"FRY\" (did you mean FRI?); expected SUN-SAT or 0-7"
    );
    assert_eq!(
        error("0 0 * XYZ *"),
        "month: unknown name \"XYZ\"; expected JAN-DEC or 1-12"
    );
}

#[test]
fn backwards_ranges_are_refused() {
    assert!(error("0 17-9 * * *").starts_with("hour: range 17-9 runs backwards"));
    assert!(error("0 0 * * FRI-MON").starts_with("day-of-week: range FRI-MON runs backwards"));
}

#[test]
fn empty_list_items_and_malformed_items_are_quoted() {
    assert_eq!(error("1,,2 * * * *"), "minute: empty list item in \"1,,2\"");
    assert_eq!(error("1, * * * *"), "minute: empty list item in \"1,\"");
    assert_eq!(
        error("0 0 ? * *"),
        "day-of-month: cannot read \"?\"; expected a number, a range a-b, a list a,b, or a step */n or a-b/n"
    );
    assert!(error("1-2-3 * * * *").starts_with("minute: cannot read \"1-2-3\""));
    assert!(error("*/5/2 * * * *").starts_with("minute: cannot read \"*/5/2\""));
}

#[test]
fn schedule_that_can_never_fire_is_refused() {
    assert_eq!(
        error("0 0 30 2 *"),
        "schedule \"0 0 30 2 *\" never fires: none of its months has the day-of-month it names"
    );
    assert!(Schedule::parse("0 0 31 4,6,9,11 *").is_err());
    // Day-of-week offers days of its own, so the pair is ORed and fires.
    assert!(Schedule::parse("0 0 30 2 MON").is_ok());
}

#[test]
fn field_errors_are_typed() {
    assert_eq!(
        Schedule::parse("0 0 * 13 *").unwrap_err(),
        ScheduleError::Field {
            field: Field::Month,
            problem: FieldProblem::OutOfRange {
                written: "13".into(),
                min: 1,
                max: 12
            }
        }
    );
}

// ---- time zones ----------------------------------------------------------

#[test]
fn timezone_names_parse() {
    assert_eq!(parse_timezone("Europe/Berlin").unwrap(), Berlin);
    assert_eq!(parse_timezone("UTC").unwrap(), Tz::UTC);
}

#[test]
fn timezone_with_wrong_case_suggests_the_right_one() {
    assert_eq!(
        parse_timezone("europe/berlin").unwrap_err().to_string(),
        "unknown time zone \"europe/berlin\"; did you mean \"Europe/Berlin\"?"
    );
    assert_eq!(
        parse_timezone("america/new york").unwrap_err(),
        ScheduleError::UnknownTimeZone {
            written: "america/new york".into(),
            suggestion: Some("America/New_York".into())
        }
    );
}

#[test]
fn timezone_with_typo_suggests_a_close_one() {
    let err = parse_timezone("Europe/Berln").unwrap_err();
    assert!(
        err.to_string().contains("did you mean \"Europe/Berlin\"?"),
        "{err}"
    );
    let err = parse_timezone("berlin").unwrap_err();
    assert!(
        err.to_string().contains("did you mean \"Europe/Berlin\"?"),
        "{err}"
    );
}

#[test]
fn timezone_far_from_any_name_gets_the_expected_form() {
    assert_eq!(
        parse_timezone("Mars/Olympus_Mons").unwrap_err().to_string(),
        "unknown time zone \"Mars/Olympus_Mons\"; expected an IANA name such as Europe/Berlin"
    );
    assert!(parse_timezone("").is_err());
}

// ---- daylight saving -------------------------------------------------------

fn notes(ticks: &[Tick]) -> Vec<(DateTime<Utc>, DstNote)> {
    ticks.iter().map(|t| (t.at, t.dst)).collect()
}

#[test]
fn berlin_spring_forward_daily_tick_in_gap_fires_at_gap_end() {
    let got = ticks("30 2 * * *", Berlin, utc(2026, 3, 27, 12, 0), 3);
    assert_eq!(
        notes(&got),
        [
            (utc(2026, 3, 28, 1, 30), DstNote::Normal),
            (
                utc(2026, 3, 29, 1, 0),
                DstNote::Gap {
                    scheduled: wall(2026, 3, 29, 2, 30)
                }
            ),
            (utc(2026, 3, 30, 0, 30), DstNote::Normal),
        ]
    );
    assert_eq!(got[1].local.naive_local(), wall(2026, 3, 29, 3, 0));
}

#[test]
fn berlin_spring_forward_quarter_hours_collapse_into_one_firing() {
    let got = ticks("*/15 2 * * *", Berlin, utc(2026, 3, 28, 12, 0), 5);
    assert_eq!(
        notes(&got),
        [
            (
                utc(2026, 3, 29, 1, 0),
                DstNote::Gap {
                    scheduled: wall(2026, 3, 29, 2, 0)
                }
            ),
            (utc(2026, 3, 30, 0, 0), DstNote::Normal),
            (utc(2026, 3, 30, 0, 15), DstNote::Normal),
            (utc(2026, 3, 30, 0, 30), DstNote::Normal),
            (utc(2026, 3, 30, 0, 45), DstNote::Normal),
        ]
    );
}

#[test]
fn berlin_spring_forward_gap_end_that_is_scheduled_fires_once_as_normal() {
    let got = ticks("*/15 * * * *", Berlin, utc(2026, 3, 29, 0, 20), 4);
    assert_eq!(
        notes(&got),
        [
            (utc(2026, 3, 29, 0, 30), DstNote::Normal),
            (utc(2026, 3, 29, 0, 45), DstNote::Normal),
            (utc(2026, 3, 29, 1, 0), DstNote::Normal),
            (utc(2026, 3, 29, 1, 15), DstNote::Normal),
        ]
    );
    assert_eq!(got[2].local.naive_local(), wall(2026, 3, 29, 3, 0));
}

#[test]
fn berlin_fall_back_daily_tick_fires_at_first_occurrence() {
    let got = ticks("30 2 * * *", Berlin, utc(2026, 10, 24, 12, 0), 2);
    assert_eq!(
        notes(&got),
        [
            (utc(2026, 10, 25, 0, 30), DstNote::Repeated),
            (utc(2026, 10, 26, 1, 30), DstNote::Normal),
        ]
    );
    assert_eq!(got[0].local.to_rfc3339(), "2026-10-25T02:30:00+02:00");
}

#[test]
fn berlin_fall_back_quarter_hours_fire_once_per_wall_time() {
    let got = ticks("*/15 * * * *", Berlin, utc(2026, 10, 24, 23, 40), 6);
    assert_eq!(
        notes(&got),
        [
            (utc(2026, 10, 24, 23, 45), DstNote::Normal),
            (utc(2026, 10, 25, 0, 0), DstNote::Repeated),
            (utc(2026, 10, 25, 0, 15), DstNote::Repeated),
            (utc(2026, 10, 25, 0, 30), DstNote::Repeated),
            (utc(2026, 10, 25, 0, 45), DstNote::Repeated),
            (utc(2026, 10, 25, 2, 0), DstNote::Normal),
        ]
    );
}

#[test]
fn starting_inside_the_repeated_hour_skips_wall_times_already_fired() {
    // 01:20 UTC is the second 02:20 in Berlin; 02:30 already fired at 00:30 UTC.
    assert_eq!(
        instants("*/15 * * * *", Berlin, utc(2026, 10, 25, 1, 20), 2),
        [utc(2026, 10, 25, 2, 0), utc(2026, 10, 25, 2, 15)]
    );
}

#[test]
fn new_york_spring_forward_and_fall_back() {
    let spring = ticks("30 2 * * *", New_York, utc(2026, 3, 7, 0, 0), 3);
    assert_eq!(
        notes(&spring),
        [
            (utc(2026, 3, 7, 7, 30), DstNote::Normal),
            (
                utc(2026, 3, 8, 7, 0),
                DstNote::Gap {
                    scheduled: wall(2026, 3, 8, 2, 30)
                }
            ),
            (utc(2026, 3, 9, 6, 30), DstNote::Normal),
        ]
    );
    let fall = ticks("30 1 * * *", New_York, utc(2026, 10, 31, 0, 0), 3);
    assert_eq!(
        notes(&fall),
        [
            (utc(2026, 10, 31, 5, 30), DstNote::Normal),
            (utc(2026, 11, 1, 5, 30), DstNote::Repeated),
            (utc(2026, 11, 2, 6, 30), DstNote::Normal),
        ]
    );
}

#[test]
fn new_york_quarter_hours_through_both_transitions() {
    let spring = ticks("*/15 * * * *", New_York, utc(2026, 3, 8, 6, 40), 3);
    assert_eq!(
        notes(&spring),
        [
            (utc(2026, 3, 8, 6, 45), DstNote::Normal),
            (utc(2026, 3, 8, 7, 0), DstNote::Normal),
            (utc(2026, 3, 8, 7, 15), DstNote::Normal),
        ]
    );
    let fall = ticks("*/30 * * * *", New_York, utc(2026, 11, 1, 4, 40), 4);
    assert_eq!(
        notes(&fall),
        [
            (utc(2026, 11, 1, 5, 0), DstNote::Repeated),
            (utc(2026, 11, 1, 5, 30), DstNote::Repeated),
            (utc(2026, 11, 1, 7, 0), DstNote::Normal),
            (utc(2026, 11, 1, 7, 30), DstNote::Normal),
        ]
    );
}

#[test]
fn lord_howe_half_hour_fall_back() {
    // 02:00 +11:00 becomes 01:30 +10:30 at 15:00 UTC on April 4th.
    let daily = ticks("45 1 * * *", Lord_Howe, utc(2026, 4, 3, 0, 0), 3);
    assert_eq!(
        notes(&daily),
        [
            (utc(2026, 4, 3, 14, 45), DstNote::Normal),
            (utc(2026, 4, 4, 14, 45), DstNote::Repeated),
            (utc(2026, 4, 5, 15, 15), DstNote::Normal),
        ]
    );
    let quarter = ticks("*/15 * * * *", Lord_Howe, utc(2026, 4, 4, 14, 10), 4);
    assert_eq!(
        notes(&quarter),
        [
            (utc(2026, 4, 4, 14, 15), DstNote::Normal),
            (utc(2026, 4, 4, 14, 30), DstNote::Repeated),
            (utc(2026, 4, 4, 14, 45), DstNote::Repeated),
            (utc(2026, 4, 4, 15, 30), DstNote::Normal),
        ]
    );
}

#[test]
fn lord_howe_half_hour_spring_forward() {
    // 02:00 +10:30 becomes 02:30 +11:00 at 15:30 UTC on October 3rd.
    let daily = ticks("15 2 * * *", Lord_Howe, utc(2026, 10, 2, 0, 0), 3);
    assert_eq!(
        notes(&daily),
        [
            (utc(2026, 10, 2, 15, 45), DstNote::Normal),
            (
                utc(2026, 10, 3, 15, 30),
                DstNote::Gap {
                    scheduled: wall(2026, 10, 4, 2, 15)
                }
            ),
            (utc(2026, 10, 4, 15, 15), DstNote::Normal),
        ]
    );
    assert_eq!(daily[1].local.to_rfc3339(), "2026-10-04T02:30:00+11:00");

    let in_gap_only = ticks("*/20 2 * * *", Lord_Howe, utc(2026, 10, 3, 12, 0), 2);
    assert_eq!(
        notes(&in_gap_only),
        [
            (
                utc(2026, 10, 3, 15, 30),
                DstNote::Gap {
                    scheduled: wall(2026, 10, 4, 2, 0)
                }
            ),
            (utc(2026, 10, 3, 15, 40), DstNote::Normal),
        ]
    );

    let quarter = ticks("*/15 * * * *", Lord_Howe, utc(2026, 10, 3, 15, 10), 3);
    assert_eq!(
        notes(&quarter),
        [
            (utc(2026, 10, 3, 15, 15), DstNote::Normal),
            (utc(2026, 10, 3, 15, 30), DstNote::Normal),
            (utc(2026, 10, 3, 15, 45), DstNote::Normal),
        ]
    );
}

#[test]
fn ticks_never_repeat_an_instant_across_a_year_of_transitions() {
    for tz in [Berlin, New_York, Lord_Howe] {
        for expr in ["*/15 * * * *", "*/10 2 * * *", "0,30 1,2 * * *"] {
            let got = ticks(expr, tz, utc(2026, 1, 1, 0, 0), 20_000);
            for pair in got.windows(2) {
                assert!(pair[0].at < pair[1].at, "{expr} in {tz}: {pair:?}");
            }
        }
    }
}

// ---- tick_before -----------------------------------------------------------

#[test]
fn tick_before_matches_ticks_after_around_transitions() {
    let cases = [
        ("*/15 * * * *", Berlin, utc(2026, 3, 28, 22, 0)),
        ("*/15 2 * * *", Berlin, utc(2026, 3, 28, 0, 0)),
        ("*/15 * * * *", Berlin, utc(2026, 10, 24, 22, 0)),
        ("30 1 * * *", New_York, utc(2026, 10, 30, 0, 0)),
        ("*/15 * * * *", Lord_Howe, utc(2026, 4, 4, 12, 0)),
        ("15 2 * * *", Lord_Howe, utc(2026, 10, 1, 0, 0)),
    ];
    for (expr, tz, start) in cases {
        let schedule = Schedule::parse(expr).unwrap();
        let forward: Vec<Tick> = schedule.ticks_after(tz, start).take(40).collect();
        let earlier = schedule.tick_before(tz, forward[0].at);
        assert!(
            earlier.is_some_and(|tick| tick.at <= start),
            "{expr} in {tz}"
        );
        for pair in forward.windows(2) {
            assert_eq!(
                schedule.tick_before(tz, pair[1].at).as_ref(),
                Some(&pair[0]),
                "{expr} in {tz}"
            );
            let between = pair[0].at + (pair[1].at - pair[0].at) / 2;
            assert_eq!(schedule.tick_before(tz, between).as_ref(), Some(&pair[0]));
        }
    }
}

#[test]
fn tick_before_finds_sparse_schedules_and_gives_up_after_five_years() {
    let leap = Schedule::parse("0 0 29 2 *").unwrap();
    assert_eq!(
        leap.tick_before(Tz::UTC, utc(2026, 1, 1, 0, 0))
            .map(|t| t.at),
        Some(utc(2024, 2, 29, 0, 0))
    );
    let yearly = Schedule::parse("@yearly").unwrap();
    assert_eq!(
        yearly
            .tick_before(Tz::UTC, utc(2026, 1, 1, 0, 0))
            .map(|t| t.at),
        Some(utc(2025, 1, 1, 0, 0))
    );
    assert_eq!(
        yearly
            .tick_before(Tz::UTC, utc(1970, 6, 1, 0, 0))
            .map(|t| t.at),
        Some(utc(1970, 1, 1, 0, 0))
    );
    assert_eq!(yearly.tick_before(Tz::UTC, utc(1960, 1, 1, 0, 0)), None);
}

#[test]
fn extreme_instants_neither_panic_nor_loop() {
    let schedule = Schedule::parse("* * * * * *").unwrap();
    for tz in [Tz::UTC, Berlin, Lord_Howe, Tz::Pacific__Kiritimati] {
        for instant in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            utc(2100, 12, 31, 23, 59),
        ] {
            let _ = schedule.ticks_after(tz, instant).take(5).count();
            let _ = schedule.tick_before(tz, instant);
        }
    }
    assert_eq!(
        schedule
            .ticks_after(Tz::UTC, DateTime::<Utc>::MAX_UTC)
            .next(),
        None
    );
}

// ---- robustness ----------------------------------------------------------

/// Small deterministic generator so the garbage is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() as usize) % items.len()]
    }
}

#[test]
fn garbage_input_never_panics() {
    let atoms = [
        "0",
        "7",
        "59",
        "60",
        "99999999999",
        "*",
        "/",
        "-",
        ",",
        " ",
        "\t",
        "?",
        "L",
        "W",
        "#",
        "@",
        "@daily",
        "@reboot",
        "MON",
        "sun",
        "jan",
        "DEC",
        "FRI-SUN",
        "*/",
        "/0",
        "-1",
        "é",
        "٣",
        "🕐",
        "\u{0}",
        "\n",
        "31",
        "2",
        "1-7/2",
        "a",
        "Z",
    ];
    let mut rng = Lcg(0x5eed);
    let mut accepted = 0;
    for _ in 0..600 {
        let len = 1 + rng.next() % 12;
        let text: String = (0..len).map(|_| *rng.pick(&atoms)).collect();
        if let Ok(schedule) = Schedule::parse(&text) {
            accepted += 1;
            let _ = schedule
                .ticks_after(Berlin, utc(2026, 3, 29, 0, 0))
                .take(3)
                .count();
        }
        let _ = parse_timezone(&text);
    }
    let fields = [
        "*", "*/7", "1-5", "0", "7", "sun-sat", "5/2", "1,2", "x", "", "30",
    ];
    for _ in 0..300 {
        let count = 4 + rng.next() % 4;
        let text: Vec<&str> = (0..count).map(|_| *rng.pick(&fields)).collect();
        if let Ok(schedule) = Schedule::parse(&text.join(" ")) {
            accepted += 1;
            let _ = schedule.tick_before(Lord_Howe, utc(2026, 10, 4, 0, 0));
        }
    }
    assert!(accepted > 0);
}

#[test]
fn a_skipped_calendar_day_is_handled_like_any_gap() {
    // Samoa jumped from UTC-10 to UTC+14 and skipped 2011-12-30 entirely.
    let got = ticks("0 12 * * *", Tz::Pacific__Apia, utc(2011, 12, 29, 0, 0), 3);
    assert_eq!(
        notes(&got),
        [
            (utc(2011, 12, 29, 22, 0), DstNote::Normal),
            (
                utc(2011, 12, 30, 10, 0),
                DstNote::Gap {
                    scheduled: wall(2011, 12, 30, 12, 0)
                }
            ),
            (utc(2011, 12, 30, 22, 0), DstNote::Normal),
        ]
    );
    assert_eq!(got[1].local.naive_local(), wall(2011, 12, 31, 0, 0));
}
