"""The national medical insurance information platform's interface for designated medical
institutions (医疗保障信息平台 定点医药机构接口): its envelope, a client, and a dev fake."""
