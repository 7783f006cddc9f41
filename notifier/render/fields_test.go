package render

import "strings"

// A hospital snooping incident: a staff account read patients' records
// without a treatment relationship. People appear as tokens, never names.
var zhFields = map[string]string{
	"org_name":        "安康互联网医院",
	"recipient_name":  "用户 U-7F3A",
	"child_name":      "C-2B91",
	"facts":           "2026年11月28日至12月2日期间，本院一名工作人员（账号标识 S-31C9）在无诊疗需要的情况下，多次查阅了包括您在内的部分患者的电子病历。本院安全审计系统于12月2日发现该异常访问。",
	"occurred_at":     "2026-11-28 09:12 – 2026-12-02 17:40 UTC",
	"discovered_at":   "2026-12-02 18:05 UTC",
	"pi_types":        "姓名、身份证件号码、联系电话、就诊记录、诊断结果、检验报告（其中就诊记录、诊断结果和检验报告属于敏感个人信息）",
	"cause":           "该工作人员违反本院信息访问管理制度，超出岗位职责范围查阅患者信息；相关系统当时未对跨科室查阅实施逐次审批。",
	"impact":          "目前未发现相关信息被复制、传播或另作他用，但您的健康信息可能已被无关人员知悉，存在隐私受到侵害、遭受歧视或被用于诈骗的风险。",
	"measures_taken":  "发现当日即停用该账号并审计其全部访问记录；已按规定向网信部门报告；已对跨科室查阅实施逐次审批并加强访问监控；将依法依规追究相关人员责任。",
	"self_protection": "请警惕以本次事件或您的就诊情况为由的来电和短信，不要向陌生人透露验证码或银行账户信息；如发现可疑情况，请及时联系我们或向公安机关报案。",
	"remedies":        "我们已为您开通专属咨询通道；如您因本次事件遭受损失，可通过下列联系方式提出赔偿申请，我们将依法处理。",
	"contact":         "个人信息保护负责人：P-DPO-01\n电话：400-000-0000（工作日 9:00–18:00）\n电子邮箱：privacy@example.org\n地址：示例市示例区健康路1号",

	"what_happened":      "2026年11月28日至12月2日期间，本院一名工作人员（账号标识 S-31C9）在无诊疗需要的情况下查阅了您的电子病历。",
	"breach_date":        "2026-11-28",
	"discovery_date":     "2026-12-02",
	"phi_types":          "姓名、出生日期、就诊记录、诊断结果、检验报告",
	"steps_individuals":  "请核对您收到的医疗费用明细和保险理赔说明，如发现并非您本人接受的服务，请及时联系我们。",
	"entity_actions":     "我们已停用该账号、审计其全部访问记录、加强跨科室查阅审批和访问监控，并将依规处理相关人员。",
	"contact_procedures": "免费电话：800-000-0000（工作日 9:00–18:00）\n电子邮箱：privacy@example.org\n通信地址：示例市示例区健康路1号 隐私办公室",
}

var enFields = map[string]string{
	"org_name":        "Ankang Online Hospital",
	"recipient_name":  "User U-7F3A",
	"child_name":      "C-2B91",
	"facts":           "Between 28 November and 2 December 2026 a member of our staff (account S-31C9) repeatedly viewed the electronic medical records of a number of patients, including you, without any treatment need. Our security audit system detected the unusual access on 2 December.",
	"occurred_at":     "2026-11-28 09:12 – 2026-12-02 17:40 UTC",
	"discovered_at":   "2026-12-02 18:05 UTC",
	"pi_types":        "name, identity document number, phone number, visit records, diagnoses, test results (visit records, diagnoses and test results are sensitive personal information)",
	"cause":           "The staff member broke our access rules and viewed patient information beyond their duties; the system did not then require approval for each access across departments.",
	"impact":          "We have found no sign that the information was copied, shared or used otherwise. Your health information may, however, have become known to a person with no reason to see it, with risks to your privacy, of discrimination, or of fraud.",
	"measures_taken":  "We disabled the account on the day of discovery and audited all its access; we reported the incident to the cyberspace authority as required; access across departments now needs approval each time and is monitored more closely; the staff member will be held accountable under our rules and the law.",
	"self_protection": "Be wary of calls and messages that mention this incident or your medical care; never give verification codes or bank details to strangers; if anything looks suspicious, contact us or report it to the police.",
	"remedies":        "A dedicated helpline is open for you. If you have suffered a loss because of this incident, you can claim compensation through the contacts below and we will handle your claim according to law.",
	"contact":         "Personal information protection officer: P-DPO-01\nPhone: 400-000-0000 (working days 9:00–18:00)\nEmail: privacy@example.org\nAddress: 1 Health Road, Example District, Example City",

	"what_happened":      "Between 28 November and 2 December 2026 a member of our staff (account S-31C9) viewed your electronic medical record without any treatment need.",
	"breach_date":        "2026-11-28",
	"discovery_date":     "2026-12-02",
	"phi_types":          "name, date of birth, visit records, diagnoses, test results",
	"steps_individuals":  "Review the statements you receive from us and from your health insurer, and tell us at once about any service you did not receive.",
	"entity_actions":     "We disabled the account, audited all its access, now require approval for access across departments with closer monitoring, and are taking action against the staff member.",
	"contact_procedures": "Toll-free: 800-000-0000 (working days 9:00–18:00)\nEmail: privacy@example.org\nMail: Privacy Office, 1 Health Road, Example District, Example City",
}

// guardianFields is what differs for the guardian of a child (under 14).
var guardianFields = map[string]map[string]string{
	"zh": {
		"recipient_name": "C-2B91 的监护人",
		"facts":          "2026年11月28日至12月2日期间，本院一名工作人员（账号标识 S-31C9）在无诊疗需要的情况下，多次查阅了包括该儿童在内的部分患者的电子病历。本院安全审计系统于12月2日发现该异常访问。",
		"impact":         "目前未发现相关信息被复制、传播或另作他用，但该儿童的健康信息可能已被无关人员知悉，存在隐私受到侵害或被用于诈骗的风险。",
	},
	"en": {
		"recipient_name": "Guardian of C-2B91",
		"facts":          "Between 28 November and 2 December 2026 a member of our staff (account S-31C9) repeatedly viewed the electronic medical records of a number of patients, including the child, without any treatment need. Our security audit system detected the unusual access on 2 December.",
		"impact":         "We have found no sign that the information was copied, shared or used otherwise. The child's health information may, however, have become known to a person with no reason to see it, with risks to the child's privacy or of fraud.",
	},
}

// fieldsForKind is fieldsFor with the guardian's values for guardian notices.
func fieldsForKind(kind, lang string) map[string]string {
	f := fieldsFor(lang)
	if kind == "guardian_notice" {
		l := "en"
		if strings.HasPrefix(strings.ToLower(lang), "zh") {
			l = "zh"
		}
		for k, v := range guardianFields[l] {
			f[k] = v
		}
	}
	return f
}

func fieldsFor(lang string) map[string]string {
	src := enFields
	if strings.HasPrefix(strings.ToLower(lang), "zh") {
		src = zhFields
	}
	out := make(map[string]string, len(src))
	for k, v := range src {
		out[k] = v
	}
	return out
}
