"""The one label catalogue (zh-CN and English).

States, actions, channels, flags, history entries, reminders, levels, outcomes and the
pages' own strings.

Every page — the maps (gridmap/maps/i18n.py reads it), the workbench through
``GET /api/v1/labels`` — shows a code only through this table, so no raw code reaches a
screen; a test checks that every value of every enum has a label in both languages.
Category names live with their routing rule in the database (``name``, ``name_en``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

CATALOGUE: dict[str, dict[str, dict[str, str]]] = {
    "zh": {
        "status": {
            "reported": "待派单", "dispatched": "待签收", "in_progress": "办理中",
            "resolved": "已办结", "follow_up": "回访中", "closed": "已结单", "rejected": "已驳回",
        },
        "action": {
            "report": "报单", "dispatch": "派单", "self_handle": "自办", "sign": "签收",
            "return": "退单", "transfer": "转办", "joint": "联办", "resolve": "办结",
            "follow_up": "回访", "close": "结单", "reopen": "重办", "reject": "驳回",
            "merge": "合并", "supervise": "督办", "respond": "督办回复", "co_sign": "会办签收",
            "co_report": "会办反馈", "whistle": "吹哨", "check_in": "报到", "escalate": "上报",
            "note": "跟踪落实",
        },
        "event": {
            "report": "上报了事件", "dispatch": "派单至", "self_handle": "自行办理",
            "sign": "签收了事件", "return": "退回了事件", "transfer": "转办至",
            "joint": "发起联办", "resolve": "办结了事件", "follow_up": "完成回访",
            "close": "结单", "reopen": "重新办理", "reject": "驳回了事件",
            "merge": "合并至", "supervise": "督办", "respond": "答复督办",
            "co_sign": "会办签收", "co_report": "会办反馈", "whistle": "吹哨召集",
            "check_in": "报到", "escalate": "上报上级中心", "note": "跟踪落实",
        },
        "channel": {
            "grid_app": "网格员上报", "citizen_app": "随手拍", "window": "窗口",
            "hotline": "12345热线", "online": "网上",
        },
        "flag": {
            "overdue": "超期", "due_soon": "临期", "fast_track": "速办", "supervised": "督办",
            "joint": "联办", "whistle": "吹哨",
        },
        "reminder": {
            "due_soon": "即将到期", "overdue": "已超期", "supervised": "被督办",
            "whistle": "被吹哨召集", "check_in_late": "报到超时", "returned": "被退单",
        },
        "level": {
            "city": "市", "county": "县区", "township": "乡镇街道", "village": "村社区",
            "grid": "网格", "points": "事件点",
        },
        "outcome": {
            "mediated": "调解成功", "referred_arbitration": "转仲裁", "referred_court": "转诉讼",
            "handled": "已处理", "other": "其他",
        },
        "ui": {
            "dispatch_title": "综治中心 · 事件调度地图",
            "grid_title": "网格员 · 我的网格",
            "plan_title": "网格方案对比",
            "workbench_title": "综治中心 · 调度工作台",
            "sign_in": "登录", "sign_out": "退出", "username": "用户名", "password": "密码",
            "sign_in_failed": "用户名或密码错误", "signed_in_as": "当前用户",
            "filters": "筛选", "period": "时间", "all": "全部", "category": "类别",
            "status": "状态", "channel": "来源渠道", "unit": "责任单位", "area": "区域",
            "overdue_only": "只看超期", "since": "起", "until": "止", "reset": "清除筛选",
            "today": "今日", "last7": "近7天", "last30": "近30天", "this_year": "今年",
            "oldest_open": "最早未办结", "most_overdue": "超期最久",
            "open": "未办结", "overdue": "超期", "due_soon": "临期", "closed": "已结单",
            "total": "合计", "updated": "更新于", "refresh_every": "自动刷新(秒)",
            "history": "办理记录", "no_data": "暂无数据", "loading": "加载中…",
            "not_found": "没有此网格,或不在您的范围内", "layers": "图层", "legend": "图例",
            "households": "户数", "buildings": "楼宇", "work_units": "单位",
            "open_incidents": "未办结事件", "close": "关闭", "zoom_in": "放大查看",
            "plan": "方案", "compare": "对比方案", "target": "目标户数",
            "deviation_table": "偏差表", "within": "±10%以内", "cells": "网格数",
            "changed": "变化网格",
            "search": "搜索编号、标题、地址", "phone_suffix": "来电尾号", "my_queue": "本中心待办",
            "code": "编号", "reported_at": "上报时间", "deadline": "办理时限",
            "time_left": "剩余时间", "place": "位置", "description": "描述",
            "reporter": "反映人", "photos": "照片", "actions": "操作",
            "select_all_matching": "选择全部符合条件的事件", "selected": "已选",
            "bulk_result": "批量处理结果", "done": "已完成", "refused": "未执行",
            "saved_filters": "常用筛选", "save_filter": "保存筛选", "shared": "与本中心共享",
            "default_filter": "默认", "reminders": "提醒", "mark_read": "标为已读",
            "language": "语言", "note": "备注", "reason": "原因", "new_deadline": "新时限",
            "merge_target": "合并到", "submit": "提交", "cancel": "取消",
            "page": "页", "previous": "上一页", "next": "下一页",
            "joint_parts": "联办单位", "whistles": "吹哨报到", "supervision": "督办",
            "possible_duplicates": "可能重复", "working_days": "工作日", "office_hours": "工作小时",
            "show_closed": "显示已结单",
        },
    },
    "en": {
        "status": {
            "reported": "Reported", "dispatched": "Dispatched", "in_progress": "In progress",
            "resolved": "Resolved", "follow_up": "Follow-up", "closed": "Closed",
            "rejected": "Rejected",
        },
        "action": {
            "report": "Report", "dispatch": "Dispatch", "self_handle": "Handle here",
            "sign": "Sign for", "return": "Return", "transfer": "Transfer",
            "joint": "Joint handling", "resolve": "Resolve", "follow_up": "Follow up",
            "close": "Close", "reopen": "Reopen", "reject": "Reject", "merge": "Merge",
            "supervise": "Supervise", "respond": "Answer supervision",
            "co_sign": "Sign for our part", "co_report": "Report our part",
            "whistle": "Blow the whistle", "check_in": "Check in", "escalate": "Escalate",
            "note": "Add a note",
        },
        "event": {
            "report": "reported it", "dispatch": "dispatched it to",
            "self_handle": "kept it to handle", "sign": "signed for it",
            "return": "returned it", "transfer": "transferred it to",
            "joint": "started joint handling", "resolve": "resolved it",
            "follow_up": "followed up", "close": "closed it", "reopen": "reopened it",
            "reject": "rejected it", "merge": "merged it into", "supervise": "supervised it",
            "respond": "answered the supervision", "co_sign": "signed for its part",
            "co_report": "reported its part", "whistle": "summoned",
            "check_in": "checked in", "escalate": "escalated it", "note": "added a note",
        },
        "channel": {
            "grid_app": "Grid worker", "citizen_app": "Citizen app", "window": "Window",
            "hotline": "12345 hotline", "online": "Online",
        },
        "flag": {
            "overdue": "Overdue", "due_soon": "Due soon", "fast_track": "Fast track",
            "supervised": "Supervised", "joint": "Joint", "whistle": "Whistle",
        },
        "reminder": {
            "due_soon": "Due soon", "overdue": "Overdue", "supervised": "Supervised",
            "whistle": "Summoned", "check_in_late": "Check-in late", "returned": "Returned",
        },
        "level": {
            "city": "City", "county": "County", "township": "Township", "village": "Village",
            "grid": "Grid cell", "points": "Incidents",
        },
        "outcome": {
            "mediated": "Mediated", "referred_arbitration": "Referred to arbitration",
            "referred_court": "Referred to court", "handled": "Handled", "other": "Other",
        },
        "ui": {
            "dispatch_title": "Governance centre · dispatch map",
            "grid_title": "Grid worker · my cell",
            "plan_title": "Grid plans compared",
            "workbench_title": "Governance centre · dispatcher's workbench",
            "sign_in": "Sign in", "sign_out": "Sign out", "username": "Username",
            "password": "Password", "sign_in_failed": "Wrong username or password",
            "signed_in_as": "Signed in as",
            "filters": "Filters", "period": "Period", "all": "All", "category": "Category",
            "status": "Status", "channel": "Channel", "unit": "Unit", "area": "Area",
            "overdue_only": "Overdue only", "since": "From", "until": "To",
            "reset": "Clear filters", "today": "Today", "last7": "7 days", "last30": "30 days",
            "this_year": "This year", "oldest_open": "Oldest open",
            "most_overdue": "Most overdue", "open": "Open", "overdue": "Overdue",
            "due_soon": "Due soon", "closed": "Closed", "total": "Total", "updated": "Updated",
            "refresh_every": "Refresh (s)", "history": "History", "no_data": "Nothing here",
            "loading": "Loading…", "not_found": "No such cell, or not in your area",
            "layers": "Layers", "legend": "Legend", "households": "Households",
            "buildings": "Buildings", "work_units": "Work units",
            "open_incidents": "Open incidents", "close": "Close", "zoom_in": "Zoom in",
            "plan": "Plan", "compare": "Compared with", "target": "Target households",
            "deviation_table": "Deviation", "within": "within ±10%", "cells": "Cells",
            "changed": "Changed cells",
            "search": "Search code, title, address", "phone_suffix": "Phone ends in",
            "my_queue": "My centre's queue", "code": "Code", "reported_at": "Reported",
            "deadline": "Deadline", "time_left": "Time left", "place": "Place",
            "description": "Description", "reporter": "Reporter", "photos": "Photos",
            "actions": "Actions", "select_all_matching": "Select all that match",
            "selected": "Selected", "bulk_result": "Bulk result", "done": "Done",
            "refused": "Refused", "saved_filters": "Saved filters", "save_filter": "Save filter",
            "shared": "Share with my centre", "default_filter": "Default",
            "reminders": "Reminders", "mark_read": "Mark read", "language": "Language",
            "note": "Note", "reason": "Reason", "new_deadline": "New deadline",
            "merge_target": "Merge into", "submit": "Submit", "cancel": "Cancel",
            "page": "Page", "previous": "Previous", "next": "Next",
            "joint_parts": "Joint units", "whistles": "Whistles", "supervision": "Supervision",
            "possible_duplicates": "Possible duplicates", "working_days": "working days",
            "office_hours": "office hours", "show_closed": "Show closed",
        },
    },
}  # fmt: skip


# The workbench page's own words beyond the shared ones above (static/workbench/main.js).
_WORKBENCH_UI: dict[str, dict[str, str]] = {
    "zh": {
        "queue": "工作队列", "title": "标题", "of": "共", "rows": "条", "bulk_run": "批量执行",
        "no_actions": "您对此事件没有可办操作", "co_units": "协办单位", "outcome": "办理结果",
        "satisfaction": "满意度(1–5)", "summoned": "吹哨召集的部门", "live": "实时推送",
        "live_off": "实时推送中断,改为定时刷新", "other_language": "English", "phone": "电话",
        "people": "涉及人数", "supervision_answer": "督办答复", "checked_in": "已报到",
        "not_checked_in": "未报到", "lead": "牵头", "co": "协办",
        "action_done": "已完成", "area_path": "所在区域", "filter_name": "筛选名称",
        "delete": "删除", "box_select": "地图框选",
        "box_select_hint": "在地图上拖出一个方框,选中其中的事件",
    },
    "en": {
        "queue": "Work queue", "title": "Title", "of": "Total", "rows": "incidents",
        "bulk_run": "Run on selection", "no_actions": "Nothing you may do here",
        "co_units": "Co-units", "outcome": "Outcome", "satisfaction": "Satisfaction (1–5)",
        "summoned": "Departments summoned", "live": "Live updates",
        "live_off": "Live updates interrupted: refreshing on a timer",
        "other_language": "中文", "phone": "Phone", "people": "People",
        "supervision_answer": "Answer", "checked_in": "checked in",
        "not_checked_in": "not checked in", "lead": "lead unit", "co": "co-unit",
        "action_done": "done", "area_path": "Place", "filter_name": "Filter name",
        "delete": "Delete", "box_select": "Select on map",
        "box_select_hint": "Drag a box on the map to select the incidents inside it",
    },
}  # fmt: skip
for _lang, _words in _WORKBENCH_UI.items():
    CATALOGUE[_lang]["ui"].update(_words)

# The planner's studio (static/studio/main.js).
_STUDIO_UI: dict[str, dict[str, str]] = {
    "zh": {
        "studio_title": "网格规划工作室",
        "studio_refused": "网格规划工作室仅供规划人员和市级管理员使用",
        "county": "县区", "township": "乡镇街道",
        "village": "村社区(可选)", "cell_target": "每格目标户数", "tolerance": "允许偏差",
        "draft_name": "草案名称", "locked_cells": "锁定的网格",
        "lock_hint": "点击地图上的网格以锁定/解锁",
        "start_rebalance": "开始调整", "cancel_job": "取消", "job_queued": "排队中",
        "job_running": "计算中", "job_done": "完成", "job_failed": "失败",
        "job_cancelled": "已取消",
        "stage_blocks": "已划分地块", "stage_balanced": "已均衡", "stage_saved": "草案已保存",
        "plan_in_force": "现行方案", "draft": "草案", "deviation_table": "偏差表",
        "cell": "网格", "deviation": "偏差", "within_band": "在范围内", "contiguous": "连通",
        "yes": "是", "no": "否", "impact_report": "调整影响", "households_moved": "迁移户数",
        "people_moved": "迁移人数", "moved_by_cell": "网格间迁移", "from_cell": "原网格",
        "to_cell": "新网格", "caseloads": "网格员负荷", "grid_worker": "网格员",
        "before": "调整前", "after": "调整后", "visits_moving": "需走访户随迁",
        "incidents_moving": "换网格的未办结事件", "cells_changed": "变化网格",
        "publish": "方案发布", "drafts": "草案", "prepare": "预备", "activate": "生效",
        "confirm_activate": "确认生效?全市将改用此方案", "confirm": "确认",
        "prepared": "已预备", "not_prepared": "未预备", "active": "现行", "preparing": "预备中…",
        "activating": "生效中…", "activated": "已生效", "show_impact": "查看影响",
        "problems": "问题", "cells_word": "个网格", "nothing_moves": "无迁移",
    },
    "en": {
        "studio_title": "Planner's studio",
        "studio_refused": "The planner's studio is for planners and city administrators",
        "county": "County",
        "township": "Township", "village": "Village (optional)",
        "cell_target": "Households per cell",
        "tolerance": "Tolerance", "draft_name": "Draft name", "locked_cells": "Locked cells",
        "lock_hint": "Click a cell on the map to lock or unlock it",
        "start_rebalance": "Rebalance", "cancel_job": "Cancel", "job_queued": "Queued",
        "job_running": "Running", "job_done": "Done", "job_failed": "Failed",
        "job_cancelled": "Cancelled", "stage_blocks": "Blocks derived",
        "stage_balanced": "Balanced", "stage_saved": "Draft saved",
        "plan_in_force": "Plan in force", "draft": "Draft", "deviation_table": "Deviation",
        "cell": "Cell", "deviation": "Deviation", "within_band": "Within band",
        "contiguous": "Contiguous", "yes": "Yes", "no": "No", "impact_report": "Change impact",
        "households_moved": "Households moved", "people_moved": "People moved",
        "moved_by_cell": "Moves between cells", "from_cell": "From", "to_cell": "To",
        "caseloads": "Grid workers' caseloads", "grid_worker": "Grid worker",
        "before": "Before", "after": "After", "visits_moving": "Due visits that move",
        "incidents_moving": "Open incidents changing cell", "cells_changed": "Cells changed",
        "publish": "Publish", "drafts": "Drafts", "prepare": "Prepare", "activate": "Activate",
        "confirm_activate": "Activate? The whole city switches to this plan",
        "confirm": "Confirm", "prepared": "Prepared", "not_prepared": "Not prepared",
        "active": "in force", "preparing": "Preparing…", "activating": "Activating…",
        "activated": "Activated", "show_impact": "Impact", "problems": "Problems",
        "cells_word": "cells", "nothing_moves": "nothing moves",
    },
}  # fmt: skip
for _lang, _words in _STUDIO_UI.items():
    CATALOGUE[_lang]["ui"].update(_words)

# The studio's hand edits (static/studio/edits.js).
_STUDIO_EDITS_UI: dict[str, dict[str, str]] = {
    "zh": {
        "hand_edits": "手工调整", "hand_edits_hint": "点击地块,再点击相邻网格的地块即可移入",
        "undo": "撤销", "redo": "重做", "pick_block": "请先点击草案地图上的一个地块",
        "move_to": "移入网格", "move": "移入", "lock_cell": "锁定网格", "unlock_cell": "解锁网格",
        "locked_in_draft": "草案中锁定的网格", "edit_log": "调整记录", "block": "地块",
        "households_word": "户", "rule_balance": "负荷超出范围", "rule_contiguity": "网格不连通",
        "rule_nesting": "网格跨越村社区边界", "not_blocking": "不阻止发布",
        "no_problems": "没有问题", "publish_blocked": "存在问题,不能预备或生效",
        "edit_undone": "已撤销", "edit_dropped": "已放弃",
    },
    "en": {
        "hand_edits": "Hand edits",
        "hand_edits_hint": "Click a block, then a block of a neighbouring cell to move it there",
        "undo": "Undo", "redo": "Redo", "pick_block": "Click a block on the draft map first",
        "move_to": "Move to cell", "move": "Move", "lock_cell": "Lock cell",
        "unlock_cell": "Unlock cell", "locked_in_draft": "Cells locked in the draft",
        "edit_log": "Edit log", "block": "Block", "households_word": "households",
        "rule_balance": "out of the band", "rule_contiguity": "not in one piece",
        "rule_nesting": "crosses its village", "not_blocking": "not blocking",
        "no_problems": "No problems",
        "publish_blocked": "Breaks a rule: cannot be prepared or activated",
        "edit_undone": "undone", "edit_dropped": "dropped",
    },
}  # fmt: skip
for _lang, _words in _STUDIO_EDITS_UI.items():
    CATALOGUE[_lang]["ui"].update(_words)

# The studio's publish panel: the stages of a publication and the registry catching up.
_PUBLICATION_UI: dict[str, dict[str, str]] = {
    "zh": {
        "pub_prepare": "预备", "pub_switch": "切换", "pub_follow": "台账跟进",
        "pub_done": "完成", "pub_waiting": "等待", "pub_running": "进行中",
        "pub_building": "建筑", "pub_household": "住户", "pub_work_unit": "单位",
        "pub_house": "房屋", "pub_person": "人员", "pub_rows": "行已更新",
        "pub_outside": "不在任何网格内", "pub_rechecked": "预备后变动、已重新分配",
    },
    "en": {
        "pub_prepare": "Prepare", "pub_switch": "Switch", "pub_follow": "Registry follows",
        "pub_done": "Done", "pub_waiting": "waiting", "pub_running": "running",
        "pub_building": "Buildings", "pub_household": "Households", "pub_work_unit": "Work units",
        "pub_house": "Houses", "pub_person": "People", "pub_rows": "rows updated",
        "pub_outside": "outside every cell",
        "pub_rechecked": "changed since preparing, re-assigned",
    },
}  # fmt: skip
for _lang, _words in _PUBLICATION_UI.items():
    CATALOGUE[_lang]["ui"].update(_words)


# The grid worker's phone app (static/field/app.js): its own words beyond the shared ones.
_FIELD_UI: dict[str, dict[str, str]] = {
    "zh": {
        "field_title": "网格员", "my_cell": "我的网格", "tab_households": "住户",
        "tab_map": "地图", "tab_visits": "走访", "tab_tasks": "任务", "tab_sync": "同步",
        "search_households": "搜索地址、门牌号或姓名", "filter_due": "待走访",
        "filter_groups": "特殊人群", "filter_renters": "租户", "members": "成员",
        "houses": "房屋", "no_households": "没有符合条件的住户", "unmask": "查看完整信息",
        "unmask_reason": "查看原因", "visit": "走访", "record_visit": "记录走访",
        "findings": "走访情况", "follow_up_needed": "需要跟进", "photo": "照片",
        "report_incident": "上报为事件", "incident_category": "事件类别",
        "use_gps": "记录位置(GPS)", "save": "保存", "queued": "待同步",
        "last_synced": "上次同步", "never": "从未", "edits_waiting": "条修改待同步",
        "sync_now": "立即同步", "offline": "离线", "online": "在线",
        "conflict": "冲突", "conflict_help": "您离线期间有人修改了同一对象,请选择保留哪个版本",
        "server_version": "服务器上的版本", "my_version": "我的修改",
        "keep_mine": "用我的修改", "keep_server": "放弃我的修改", "refused_edit": "未被接受",
        "drop": "删除", "interval_days": "走访周期(天)", "overdue_days": "超期(天)",
        "never_visited": "从未走访", "due_at": "截止", "result": "结果", "complete": "完成",
        "my_progress": "我的进度", "cell_progress": "网格进度", "register_person": "登记人员",
        "register_household": "登记住户", "unit_no": "门牌号", "name": "姓名",
        "id_number": "身份证号", "moved_out": "已迁出", "deceased": "已故",
        "mark_moved_out": "整户迁出", "mark_deceased": "登记死亡",
        "person_moved_out": "登记迁出", "no_pack": "首次使用需要联网下载本网格数据",
        "pack_dropped": "您已调整到其他网格,原网格的数据已从手机删除",
        "sync_warnings": "同步提示", "gps_unavailable": "无法获取位置", "back": "返回",
        "no_tasks": "没有待办任务", "no_visits_due": "没有待走访住户", "renter": "租户",
        "household": "住户", "building": "楼宇", "update_phone": "更新电话",
    },
    "en": {
        "field_title": "Grid worker", "my_cell": "My cell", "tab_households": "Households",
        "tab_map": "Map", "tab_visits": "Visits", "tab_tasks": "Tasks", "tab_sync": "Sync",
        "search_households": "Search address, door number or name", "filter_due": "Visit due",
        "filter_groups": "Special groups", "filter_renters": "Renters", "members": "Members",
        "houses": "Houses", "no_households": "No household matches", "unmask": "Show in full",
        "unmask_reason": "Reason", "visit": "Visit", "record_visit": "Record a visit",
        "findings": "Findings", "follow_up_needed": "Follow-up needed", "photo": "Photo",
        "report_incident": "Report as an incident", "incident_category": "Category",
        "use_gps": "Record my position (GPS)", "save": "Save", "queued": "waiting to sync",
        "last_synced": "Last synced", "never": "Never", "edits_waiting": "edits waiting",
        "sync_now": "Sync now", "offline": "Offline", "online": "Online",
        "conflict": "Conflict",
        "conflict_help": "Someone changed this while you were offline: choose which version stays",
        "server_version": "On the server", "my_version": "My edit", "keep_mine": "Keep mine",
        "keep_server": "Drop mine", "refused_edit": "Not accepted", "drop": "Delete",
        "interval_days": "Visit every (days)", "overdue_days": "Overdue (days)",
        "never_visited": "Never visited", "due_at": "Due", "result": "Result",
        "complete": "Done", "my_progress": "My progress", "cell_progress": "Cell progress",
        "register_person": "Register a person", "register_household": "Register a household",
        "unit_no": "Door number", "name": "Name", "id_number": "ID number",
        "moved_out": "Moved out", "deceased": "Deceased", "mark_moved_out": "Household moved out",
        "mark_deceased": "Deceased", "person_moved_out": "Moved out",
        "no_pack": "The first start needs a connection to download your cell",
        "pack_dropped": "You were moved to another cell: the old cell's data was removed",
        "sync_warnings": "Sync notes", "gps_unavailable": "No position available",
        "back": "Back", "no_tasks": "No open task", "no_visits_due": "No visit due",
        "renter": "Renter", "household": "Household", "building": "Building",
        "update_phone": "Update phone",
    },
}  # fmt: skip
for _lang, _words in _FIELD_UI.items():
    CATALOGUE[_lang]["ui"].update(_words)


def catalogue(lang: Lang, categories: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every label in ``lang``, with the category names given (from the routing rules)."""
    return {**CATALOGUE[lang], "category": dict(categories or {})}
