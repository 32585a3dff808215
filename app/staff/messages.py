"""People-facing texts of the staff administration codes, and of the problems a spreadsheet
import reports per row."""

from __future__ import annotations

from app.i18n import register_messages

register_messages(
    {
        "staff_username_taken": {
            "zh": "用户名 {username} 已被使用",
            "en": "The username {username} is taken",
        },
        "staff_not_found": {"zh": "未找到该工作人员账号", "en": "No such staff account"},
        "staff_institution_not_found": {
            "zh": "机构代码 {code} 不存在",
            "en": "No institution has the code {code}",
        },
        "staff_store_not_found": {
            "zh": "门店编码 {code} 不存在或已停用",
            "en": "No active store has the code {code}",
        },
        "staff_workplace_invalid": {
            "zh": "医生填写机构代码，配送员填写门店编码，药师二选一"
            "（机构=处方审核药师，门店=门店药师）",
            "en": "A doctor needs an institution code, a courier a store code, a pharmacist "
            "exactly one of them (institution: prescription reviewer, store: store pharmacist)",
        },
        "staff_doctor_profile_required": {
            "zh": "医生须填写科室和职称",
            "en": "A doctor needs a department and a title",
        },
        "staff_field_not_for_role": {
            "zh": "该字段仅适用于医生",
            "en": "This field is for doctors only",
        },
        "staff_cannot_suspend_self": {
            "zh": "不能停用自己的账号",
            "en": "You cannot suspend your own account",
        },
        "staff_already_suspended": {"zh": "该账号已停用", "en": "The account is already suspended"},
        "staff_not_suspended": {"zh": "该账号未被停用", "en": "The account is not suspended"},
        "staff_move_same_workplace": {
            "zh": "该人员已在此机构或门店",
            "en": "The person already works there",
        },
        "staff_move_changes_kind": {
            "zh": "调动不能改变岗位类型：医生和处方审核药师在机构之间调动，"
            "配送员和门店药师在门店之间调动",
            "en": "A move keeps the kind of post: doctors and prescription reviewers move "
            "between institutions, couriers and store pharmacists between stores",
        },
        "staff_import_rejected": {
            "zh": "表格有 {count} 处问题，未导入任何人员",
            "en": "The spreadsheet has {count} problem(s); nobody was imported",
        },
        "staff_import_unreadable": {
            "zh": "无法读取表格，请上传 CSV（UTF-8 或 GBK）或 XLSX 文件",
            "en": "The spreadsheet cannot be read: upload a CSV (UTF-8 or GBK) or XLSX file",
        },
        "staff_import_too_large": {
            "zh": "表格过大：最多 {max_rows} 行、{max_mb} MB",
            "en": "The spreadsheet is too large: at most {max_rows} rows and {max_mb} MB",
        },
        "staff_import_empty": {"zh": "表格中没有人员", "en": "The spreadsheet lists nobody"},
        "staff_import_column_unknown": {
            "zh": "无法识别的列：{column}",
            "en": "Unknown column: {column}",
        },
        "staff_import_column_missing": {
            "zh": "缺少必需的列：{column}",
            "en": "A required column is missing: {column}",
        },
        "staff_import_duplicate_username": {
            "zh": "用户名与第 {row} 行重复",
            "en": "The username repeats row {row}",
        },
        "staff_import_value_missing": {"zh": "必填项为空", "en": "A required value is empty"},
        "staff_import_value_invalid": {
            "zh": "取值不正确",
            "en": "The value is not valid",
        },
        "staff_import_role_invalid": {
            "zh": "角色应为：医生、药师、配送员（doctor、pharmacist、courier）",
            "en": "The role must be doctor, pharmacist or courier (医生、药师、配送员)",
        },
    }
)
