// Every label of the display, in one dictionary. State, objective, team and
// stop-reason names are not here: the API delivers them in both languages.
window.I18N = {
  en: {
    for: "for", speed: "Speed", metres_shift: "Metres this shift", energy_per_m: "Energy per metre",
    baseline: "Baseline", saving: "saving", oee: "OEE (shift)", scoreboard: "Team scoreboard",
    sessions: "Sessions", kwh_delivered: "Delivered", charging_now: "Charging now", availability: "Availability",
    live: "LIVE", offline: "RECONNECTING", rank: "Rank", score: "Score", shift: "Shift", crew: "Crew",
    ahead: "ahead of plan", behind: "behind plan", on_plan: "on plan", reason: "Reason",
    no_reason: "No reason entered", a: "A", p: "P", q: "Q", no_score: "no data", off_shift: "off shift", sessions_unit: "sess.", lang_button: "中文",
    ytd_title: "Year to date", ytd_metres: "Metres this year", ytd_energy: "Energy saved", ytd_water: "Water saved",
    ytd_money: "Money saved", ytd_co2: "CO₂ avoided", ytd_pace: "of the pro-rata target", ytd_projected: "year-end at this rate",
    ytd_since: "figures since", ytd_building: "being computed", ytd_no_target: "no annual target",
    backfill: "history", backfill_days: "days",
  },
  zh: {
    for: "持续", speed: "车速", metres_shift: "本班印花米数", energy_per_m: "单位米能耗",
    baseline: "传统基准", saving: "节能", oee: "设备综合效率（本班）", scoreboard: "班组积分榜",
    sessions: "充电次数", kwh_delivered: "充电电量", charging_now: "正在充电", availability: "可用率",
    live: "实时", offline: "正在重连", rank: "名次", score: "得分", shift: "班次", crew: "班组",
    ahead: "超前于计划", behind: "落后于计划", on_plan: "符合计划", reason: "原因",
    no_reason: "未填写停机原因", a: "开动", p: "性能", q: "合格", no_score: "无数据", off_shift: "本班未当班", sessions_unit: "次", lang_button: "EN",
    ytd_title: "本年累计", ytd_metres: "本年印花米数", ytd_energy: "节约电量", ytd_water: "节约用水",
    ytd_money: "节约费用", ytd_co2: "减少二氧化碳", ytd_pace: "（按时进度）", ytd_projected: "按此速度全年",
    ytd_since: "数据起始于", ytd_building: "正在计算", ytd_no_target: "未设年度目标",
    backfill: "历史数据", backfill_days: "天",
  },
};
