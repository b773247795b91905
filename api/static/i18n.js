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
    backfill: "history", backfill_days: "days", low_charge: "low charge",
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
    backfill: "历史数据", backfill_days: "天", low_charge: "低电量",
  },
};
// The tracking page (/tracking) and the display's link to it.
Object.assign(window.I18N.en, {
  tracking: "Team tracking", tracking_title: "Team performance tracking", display: "Control room", team: "Team",
  period: "Period", year: "Year", month: "Month", period_pick: "Pareto of", csv: "Export CSV",
  p_shift: "Shifts", p_day: "Days", p_week: "Weeks", p_month: "Months", p_quarter: "Quarters", p_year: "Years",
  score_trend: "Score per period", rank_history: "Rank history", objectives_sheet: "Objectives sheet",
  pareto: "Downtime Pareto", savings: "Energy and water saved against the baseline", objective: "Objective",
  target: "Target", actual: "Actual", attainment: "Attainment", weight: "Weight", downtime_min: "Downtime (min)",
  energy_saved: "Energy saved (kWh)", water_saved: "Water saved (L)", co2_avoided: "CO₂ avoided",
  money_saved: "saved", total_saved: "Over these periods", loading: "Loading…", running: "running",
  no_printers: "No printing machines in this team: no downtime or savings",
  raw_note: "{n} shift(s) computed from raw samples",
  stale_note: "{n} shift(s) from ledger rows of an earlier plant file (run shopfloor ledger rebuild)",
});
Object.assign(window.I18N.zh, {
  tracking: "班组绩效跟踪", tracking_title: "班组绩效跟踪", display: "中控大屏", team: "班组",
  period: "周期", year: "年度", month: "月份", period_pick: "帕累托周期", csv: "导出 CSV",
  p_shift: "按班次", p_day: "按日", p_week: "按周", p_month: "按月", p_quarter: "按季度", p_year: "按年",
  score_trend: "各周期得分", rank_history: "排名变化", objectives_sheet: "目标考核表",
  pareto: "停机原因帕累托图", savings: "相对传统基准的节能节水", objective: "考核指标",
  target: "目标", actual: "实际", attainment: "达成率", weight: "权重", downtime_min: "停机时间（分钟）",
  energy_saved: "节电（千瓦时）", water_saved: "节水（升）", co2_avoided: "减排二氧化碳",
  money_saved: "节省", total_saved: "所选周期合计", loading: "加载中…", running: "进行中",
  no_printers: "该班组没有印花机：无停机与节能数据",
  raw_note: "{n} 个班次由原始数据计算",
  stale_note: "{n} 个班次来自旧版工厂配置的台账（请运行 shopfloor ledger rebuild）",
});
// The hour-by-hour board (/board) and the display's link to it.
Object.assign(window.I18N.en, {
  board: "Hour by hour", board_title: "Hour-by-hour board", hour: "Hour", planned_min: "Planned min",
  variance: "Variance", cum_target: "Cum. target", cum_actual: "Cum. actual", cum_variance: "Cum. variance",
  comment: "Comment", add_comment: "Comment", edit: "Edit", save: "Save", cancel: "Cancel", saved: "Saved",
  shift_target: "Shift target", due_so_far: "Target so far", actual_so_far: "Actual so far", rate: "Current rate",
  projected: "Projected end of shift", stops_title: "Stops without a reason", all_stops: "all stops",
  set_reason: "Reason", split: "Split", min: "min", reason_for: "Reason of the stop", reason_first: "Reason of the first part",
  reason_second: "Reason of the second part", split_at: "Split at", no_stops: "No stops this shift",
  all_have_reasons: "Every stop has a reason", key_enter: "Enter key", key_change: "Change key",
  key_prompt: "API key", operator: "Your name", key_needed: "An API key is needed to save",
  gap_note: "{m} m were printed while no data came in: counted in the actual, in no hour",
  no_printers_board: "No printing machines in the plant file",
  cat_planned: "Planned", cat_setup: "Setup / changeover", cat_unplanned: "Breakdowns and faults", cat_external: "Starved / blocked",
});
Object.assign(window.I18N.zh, {
  board: "逐时生产看板", board_title: "逐时生产看板", hour: "时段", planned_min: "计划分钟",
  variance: "差异", cum_target: "累计目标", cum_actual: "累计实际", cum_variance: "累计差异",
  comment: "备注", add_comment: "备注", edit: "修改", save: "保存", cancel: "取消", saved: "已保存",
  shift_target: "本班目标", due_so_far: "截至目前目标", actual_so_far: "截至目前实际", rate: "当前速率",
  projected: "预计班末米数", stops_title: "未填写原因的停机", all_stops: "全部停机",
  set_reason: "填写原因", split: "拆分", min: "分钟", reason_for: "停机原因", reason_first: "前一段的原因",
  reason_second: "后一段的原因", split_at: "拆分时刻", no_stops: "本班无停机",
  all_have_reasons: "所有停机均已填写原因", key_enter: "输入密钥", key_change: "更换密钥",
  key_prompt: "API 密钥", operator: "姓名", key_needed: "保存需要 API 密钥",
  gap_note: "数据中断期间印花 {m} 米：计入实际，不计入任何时段",
  no_printers_board: "工厂配置中没有印花机",
  cat_planned: "计划停机", cat_setup: "换型准备", cat_unplanned: "故障停机", cat_external: "待料 / 堵料",
});
// The display's andon banner (alerts.js).
Object.assign(window.I18N.en, {
  alerts_title: "Alerts", alerts_ack: "acknowledged", alerts_sound_on: "Sound on", alerts_sound_off: "Sound off",
  alerts_since: "since",
});
Object.assign(window.I18N.zh, {
  alerts_title: "报警", alerts_ack: "已确认", alerts_sound_on: "声音开", alerts_sound_off: "声音关", alerts_since: "起于",
});
// The display's order tile (display.js renderOrder).
Object.assign(window.I18N.en, {
  order: "Order", design: "Design", order_left: "left", order_eta: "ETA", order_no_plan: "no plan",
  order_done: "done", order_stopped: "stopped: no ETA",
});
Object.assign(window.I18N.zh, {
  order: "订单", design: "花型", order_left: "剩余", order_eta: "预计完成", order_no_plan: "无计划",
  order_done: "已完成", order_stopped: "停机：无法预计",
});
// The orders page (/orders) and the links to it.
Object.assign(window.I18N.en, {
  orders: "Orders", orders_title: "Print orders", order_running: "Running order", order_design: "Design",
  order_metres: "Metres this shift", order_source: "Entered by", order_by_operator: "operator", order_by_plc: "line PLC",
  order_none: "none", order_start_end: "Start or end an order", order_number: "Order number", order_at: "At (empty: now)",
  order_start: "Start order", order_end: "End order", design_from_plan: "from the plan", plan_import: "Import a plan (CSV)",
  plan_import_button: "Import plan", plan_imported: "Plan imported, orders", order_events: "Order events",
  orders_recent: "Orders this shift", order_span: "Start – end", order_good: "Good m",
  order_colourway: "Colourway (plan)", order_fabric: "Fabric",
  order_defective: "Defective m", order_run_min: "Run min", order_setup_min: "Setup min",
  order_water_per_m: "Water per metre", order_oee: "OEE", order_remaining: "Remaining", orders_none: "No orders this shift",
  order_started: "Started", order_ended: "Ended", withdraw: "Withdraw", withdrawn_by: "withdrawn by",
});
Object.assign(window.I18N.zh, {
  orders: "订单", orders_title: "印花订单", order_running: "当前订单", order_design: "花型",
  order_metres: "本班已印米数", order_source: "录入来源", order_by_operator: "操作员", order_by_plc: "产线 PLC",
  order_none: "无", order_start_end: "开始或结束订单", order_number: "订单号", order_at: "时间（空：现在）",
  order_start: "开始订单", order_end: "结束订单", design_from_plan: "按计划", plan_import: "导入计划（CSV）",
  plan_import_button: "导入计划", plan_imported: "计划已导入，订单数", order_events: "订单记录",
  orders_recent: "本班订单", order_span: "开始 – 结束", order_good: "合格米数",
  order_colourway: "色位（计划）", order_fabric: "面料",
  order_defective: "次品米数", order_run_min: "运行分钟", order_setup_min: "换型分钟",
  order_water_per_m: "单位米水耗", order_oee: "设备综合效率", order_remaining: "剩余", orders_none: "本班无订单",
  order_started: "已开始", order_ended: "已结束", withdraw: "撤销", withdrawn_by: "撤销人",
});
